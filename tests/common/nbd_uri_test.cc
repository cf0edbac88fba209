// SPDX-License-Identifier: MIT
// Which names are NBD URIs (common/nbd_uri.h): the six schemes libnbd
// accepts, vsock included, and nothing that merely looks like one.
#include <gtest/gtest.h>
#include "nbd_uri.h"

namespace {

TEST(NbdUri, EverySchemeLibnbdAccepts)
{
	for (const char *u : { "nbd://host", "nbd://host:10809/export", "nbd+unix:///?socket=/s",
			       "nbd+vsock://2:10809/export", "nbds://host/e",
			       "nbds+unix:///e?socket=/s", "nbds+vsock://3" }) {
		EXPECT_TRUE(rc_is_nbd_uri(u)) << u;
	}
}

TEST(NbdUri, PathsAndLookAlikesAreNot)
{
	for (const char *u :
	     { "/dev/sda", "disk.img", "nbd:/host", "nbd:host", "NBD://host", "nbd+tcp://host",
	       "nbds+unx:///e", "http://host", "./nbd://x", " nbd://host", "nbd", "" }) {
		EXPECT_FALSE(rc_is_nbd_uri(u)) << u;
	}
	EXPECT_FALSE(rc_is_nbd_uri(nullptr));
}

} // namespace
