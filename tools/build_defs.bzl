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

def vrec_fuzz_target(name, srcs, deps = [], size = "small"):
    """A libFuzzer target NAME (tests/fuzz): its LLVMFuzzerTestOneInput in a library, the test
    NAME_corpus_test that replays corpus/NAME in the normal test run, and the binary NAME
    (manual: built by tools/fuzz.sh with clang and --config=fuzz, which links libFuzzer's main)."""
    native.cc_library(
        name = name + "_lib",
        srcs = srcs,
        hdrs = ["fuzz_util.h"],
        copts = VREC_COPTS,
        deps = deps,
        alwayslink = True,
    )
    vrec_cc_test(
        name = name + "_corpus_test",
        srcs = ["corpus_replay_test.cc"],
        copts = ["-DVREC_FUZZ_CORPUS=\\\"tests/fuzz/corpus/" + name + "\\\""],
        data = native.glob(["corpus/" + name + "/**"]),
        deps = [":" + name + "_lib"],
        size = size,
    )
    native.cc_binary(
        name = name,
        copts = VREC_COPTS,
        deps = [":" + name + "_lib"],
        tags = ["manual"],
    )
