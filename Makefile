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
CPPFLAGS += -D_GNU_SOURCE -Iengine/include -Iuapi -Iengine -Ictl -Itools/common
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC $(WARN) $(SANFLAGS) $(PKG_CFLAGS)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=gnu++17 $(WARN) -Wno-missing-field-initializers $(SANFLAGS) $(PKG_CFLAGS) -Itests/common
LDFLAGS  += $(SANFLAGS)
LIBS      = $(PKG_LIBS) -lpthread

ENGINE_SRC := $(wildcard engine/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(B)/%.o)
CTL_SRC    := $(filter-out ctl/main.c,$(wildcard ctl/*.c))
CTL_OBJ    := $(CTL_SRC:%.c=$(B)/%.o)
TOOLS      := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))
TOOL_BINS  := $(TOOLS:%=$(B)/bin/%)
TOOL_COMMON_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tools/common/*.c))
COMMON_TEST_OBJ := $(patsubst %.cc,$(B)/%.o,$(wildcard tests/common/*.cc))
SUITES     := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard tests/*/*_test.cc)))))
SUITE_BINS := $(SUITES:%=$(B)/tests/%_tests)

# The nbdkit filter links only the format unit, not the engine; the fault
# shim is preloaded by its tests.
FILTERDIR   ?= $(shell pkg-config --variable=filterdir nbdkit 2>/dev/null)
TRACK_FILTER := $(B)/lib/nbdkit-resync-track-filter.so
TRACK_SHIM   := $(B)/tests/shim/track_fault.so

LIB_A  := $(B)/libresync.a
LIB_SO := $(B)/libresync.so.$(VERSION)

.PHONY: all deps check stress demo bench install clean
all: $(LIB_A) $(LIB_SO) $(B)/bin/resyncctl $(TOOL_BINS) $(B)/resync.pc $(TRACK_FILTER)

deps:
	@tools/install-deps build

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c -o $@ $<

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

$(B)/bin/resyncctl: $(B)/ctl/main.o $(B)/libresyncctl.a $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(TRACK_FILTER): $(B)/tools/resync-track/filter.o $(B)/engine/track_log.o $(B)/engine/durable.o
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libxxhash) -lpthread

$(TRACK_SHIM): tests/shim/track_fault.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $< -ldl

$(B)/tests/track_tests: | $(TRACK_FILTER) $(TRACK_SHIM)

# Objects reached through the pattern rules below are kept, not deleted as
# intermediates, so a rebuild only compiles what changed.
.SECONDARY:

# A tool is a folder tools/NAME/ with a main.c; its other .c files are its
# own, tools/common/ is every tool's.
.SECONDEXPANSION:
$(B)/bin/%: $$(foreach f,$$(wildcard tools/$$*/*.c),$(B)/$$(basename $$f).o) $(TOOL_COMMON_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A test suite is a folder tests/NAME/ of *_test.cc files.
$(B)/tests/%_tests: $$(foreach f,$$(wildcard tests/$$*/*.cc),$(B)/$$(basename $$f).o) $(COMMON_TEST_OBJ) $(B)/libresyncctl.a $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs gtest_main 2>/dev/null)

$(B)/resync.pc: engine/resync.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))|' \
	    -e 's|@INCDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCDIR))|; s|@VERSION@|$(VERSION)|' $< > $@

check:
	@tools/install-deps test
	$(MAKE) all $(SUITE_BINS)
	@B=$(B) tests/run

# Long storms (hundreds of kills, crash rounds) run in full here; `check` runs
# a shortened round of each.  Tests read RESYNC_STRESS (tests/common/stress.h,
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
	@B=$(B) bench/track-overhead

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
	install -d $(DESTDIR)$(FILTERDIR)
	install -m 755 $(TRACK_FILTER) $(DESTDIR)$(FILTERDIR)/

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
