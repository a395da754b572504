# stockcam's own autoconf macros.

# SC_REQUIRE_PKG(VARIABLE-PREFIX, MODULES, DEBIAN-PACKAGE)
# Like PKG_CHECK_MODULES, but a failure names the Debian package to install.
AC_DEFUN([SC_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
	    [AC_MSG_ERROR([$2 not found by pkg-config.
  On Debian or Ubuntu: apt-get install $3
  (or run scripts/quickstart.sh, which installs every missing package)])])
])

# SC_CHECK_CFLAG(FLAG, ACTION-IF-ACCEPTED)
# Runs ACTION when the C compiler accepts FLAG without a warning.
AC_DEFUN([SC_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	sc_save_CFLAGS="$CFLAGS"
	CFLAGS="$CFLAGS -Werror $1"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
	    [AC_MSG_RESULT([yes]); $2],
	    [AC_MSG_RESULT([no])])
	CFLAGS="$sc_save_CFLAGS"
])
