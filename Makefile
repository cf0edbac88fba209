# resync: one entry point.  `make check` and `make demo` install what is
# missing (Debian 12, as root) before they build.
#
#   make [all]        library, tools, resyncctl (into build/, or build-san/ with SANITIZE=1)
#   make check        every test suite and end-to-end script; ends "N passed, N failed"
#   make stress       the same suites with the long storms run in full (RESYNC_STRESS=1)
#   make demo         a real failback end to end on generated images
#   make bench        the benchmark against nbdcopy, qemu-img, rsync, dd, fio
#   make install      PREFIX=/usr/local DESTDIR=
#   make deps         apt-get install whatever is missing

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B        := build
SANFLAGS :=
endif

CC  ?= cc
CXX ?= c++
SOVERSION := 0
VERSION   := 0.1.0

PKGS      := liburing libnbd blkid json-c libxxhash
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC $(WARN) $(SANFLAGS) $(PKG_CFLAGS)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=gnu++17 $(WARN) -Wno-missing-field-initializers $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS  += $(SANFLAGS)
LIBS      = $(PKG_LIBS) -lpthread

# common/NAME.c (+ NAME.h, prefix rc_): what engine, ctl and tools share.  It
# builds into libresync-common.a; libresync (.a and .so) carries the same
# objects, kept local in the .so by engine/libresync.map, and resyncctl and
# the tools link libresync-common.a themselves.  Its tests: tests/common/.
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
COMMON_A   := $(B)/libresync-common.a
ENGINE_SRC := $(wildcard engine/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(B)/%.o) $(COMMON_OBJ)
CTL_SRC    := $(filter-out ctl/main.c,$(wildcard ctl/*.c))
CTL_OBJ    := $(CTL_SRC:%.c=$(B)/%.o)
TOOLS      := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))
TOOL_BINS  := $(TOOLS:%=$(B)/bin/%)
# tests/support/: what the suites share (temp dirs, loop devices, run_engine).
SUPPORT_TEST_OBJ := $(patsubst %.cc,$(B)/%.o,$(wildcard tests/support/*.cc))
# LD_PRELOAD shims for faults and observations no real component offers:
# tests/shim/NAME.c becomes $(B)/tests/shim/NAME.so (built by `all`), never
# sanitized (it is preloaded into sanitized binaries too).
SHIMS      := $(patsubst tests/shim/%.c,$(B)/tests/shim/%.so,$(wildcard tests/shim/*.c))
SUITES     := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard tests/*/*_test.cc)))))
SUITE_BINS := $(SUITES:%=$(B)/tests/%_tests)

LIB_A  := $(B)/libresync.a
LIB_SO := $(B)/libresync.so.$(VERSION)
# resyncctl and the tools again, linked against libresync.so: the .so exports
# only the public API, so these link only if nothing outside engine/ uses an
# engine internal (tests/e2e/shared-boundary.sh runs them).
SHARED_BINS := $(B)/shared-bin/resyncctl $(TOOLS:%=$(B)/shared-bin/%)

.PHONY: all deps check stress demo bench install clean
all: $(LIB_A) $(LIB_SO) $(B)/bin/resyncctl $(TOOL_BINS) $(SHARED_BINS) $(B)/resync.pc $(SHIMS)

deps:
	@tools/install-deps build

# Include paths per target (libnbd's copy/Makefile.am habit): only the engine
# sees engine/; ctl and the tools see the public header, uapi and common/;
# a test suite sees what it tests.
INC_COMMON := -Icommon
INC_ENGINE := -Iengine -Iengine/include -Iuapi -Icommon
INC_CTL    := -Ictl -Iengine/include -Iuapi -Icommon
$(B)/common/%.o:        INC = $(INC_COMMON)
$(B)/engine/%.o:        INC = $(INC_ENGINE)
$(B)/ctl/%.o:           INC = $(INC_CTL)
$(B)/tools/%.o:         INC = -I$(<D) -Iengine/include -Iuapi -Icommon
$(B)/tests/support/%.o: INC = -Itests/support -Iengine/include -Iuapi
$(B)/tests/common/%.o:  INC = -Itests/support $(INC_COMMON)
$(B)/tests/unit/%.o:    INC = -Itests/support $(INC_ENGINE)
$(B)/tests/nbd/%.o:     INC = -Itests/support $(INC_ENGINE)
$(B)/tests/ctl/%.o:     INC = -Itests/support $(INC_CTL)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(INC) $(CXXFLAGS) -MMD -MP -c -o $@ $<

$(COMMON_A): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_A): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(ENGINE_OBJ) engine/libresync.map
	$(CC) -shared -Wl,-soname,libresync.so.$(SOVERSION) -Wl,--version-script=engine/libresync.map \
		$(LDFLAGS) -o $@ $(ENGINE_OBJ) $(LIBS)
	ln -sf libresync.so.$(VERSION) $(B)/libresync.so.$(SOVERSION)
	ln -sf libresync.so.$(SOVERSION) $(B)/libresync.so

$(B)/libresyncctl.a: $(CTL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/bin/resyncctl: $(B)/ctl/main.o $(B)/libresyncctl.a $(LIB_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The rpath finds $(B)/libresync.so from $(B)/shared-bin/.
SHARED_LINK = -L$(B) -lresync $(COMMON_A) $(LIBS) -Wl,-rpath,'$$ORIGIN/..'
$(B)/shared-bin/resyncctl: $(B)/ctl/main.o $(B)/libresyncctl.a $(LIB_SO) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(B)/ctl/main.o $(B)/libresyncctl.a $(SHARED_LINK)

# Objects reached through the pattern rules below are kept, not deleted as
# intermediates, so a rebuild only compiles what changed.
.SECONDARY:

# A tool is a folder tools/NAME/ with a main.c; its other .c files are its
# own; what tools share with the engine and ctl is in common/.
.SECONDEXPANSION:
$(B)/bin/%: $$(foreach f,$$(wildcard tools/$$*/*.c),$(B)/$$(basename $$f).o) $(LIB_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/shared-bin/%: $$(foreach f,$$(wildcard tools/$$*/*.c),$(B)/$$(basename $$f).o) $(LIB_SO) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(SHARED_LINK)

GTEST_LIBS = $(shell pkg-config --libs gtest_main 2>/dev/null)

# A test suite is a folder tests/NAME/ of *_test.cc files.  tests/common/
# links common/ alone: a unit there may not need the engine.
$(B)/tests/common_tests: $$(foreach f,$$(wildcard tests/common/*.cc),$(B)/$$(basename $$f).o) $(SUPPORT_TEST_OBJ) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS) $(GTEST_LIBS)

$(B)/tests/%_tests: $$(foreach f,$$(wildcard tests/$$*/*.cc),$(B)/$$(basename $$f).o) $(SUPPORT_TEST_OBJ) $(B)/libresyncctl.a $(LIB_A) $(COMMON_A)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(filter-out %.so,$^) $(LIBS) $(GTEST_LIBS)

# Shims build before the suites that preload them.
$(SUITE_BINS): | $(SHIMS)
$(SHIMS): $(B)/tests/shim/%.so: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -O2 -g -std=gnu11 -fPIC -shared $(WARN) -o $@ $< -ldl

$(B)/resync.pc: engine/resync.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))|' \
	    -e 's|@INCDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCDIR))|; s|@VERSION@|$(VERSION)|' $< > $@

check:
	@tools/install-deps test
	$(MAKE) all $(SUITE_BINS)
	@B=$(B) tests/run

# Long storms (hundreds of kills, crash rounds) run in full here; `check` runs
# a shortened round of each.  Tests read RESYNC_STRESS (tests/support/stress.h,
# tests/e2e/lib.bash: rounds).
stress:
	@tools/install-deps test
	$(MAKE) all $(SUITE_BINS)
	@B=$(B) RESYNC_STRESS=1 tests/run

demo:
	@tools/install-deps demo
	$(MAKE) all
	@B=$(B) tools/demo

bench:
	@tools/install-deps bench
	$(MAKE) all
	@B=$(B) bench/run

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/resync $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libresync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libresync.so.$(SOVERSION)
	ln -sf libresync.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libresync.so
	install -m 644 engine/include/resync/resync.h uapi/resync/*.h $(DESTDIR)$(INCDIR)/resync/
	install -m 644 $(B)/resync.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 $(B)/bin/resyncctl $(TOOL_BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 doc/*.1 $(DESTDIR)$(MANDIR)/man1/

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
