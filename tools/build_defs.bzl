"""Build macros: the one place compiler options live (see STYLE.md)."""

VREC_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-sign-compare",
    "-march=x86-64-v3",
]

def vrec_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = VREC_COPTS + copts, **kwargs)

def vrec_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(name = name, copts = VREC_COPTS + copts, **kwargs)

def vrec_cc_test(name, copts = [], deps = [], size = "small", **kwargs):
    """A GoogleTest test; links gtest_main unless the test brings its own main."""
    native.cc_test(
        name = name,
        copts = VREC_COPTS + copts,
        deps = deps + ["//third_party:gtest", "//third_party:gtest_main"],
        size = size,
        **kwargs
    )
