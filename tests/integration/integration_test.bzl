"""integration_test: a cc_test over a real server, with the kit's usual deps."""

def integration_test(name, deps = [], data = [], size = "medium", **kwargs):
    native.cc_test(
        name = name,
        size = size,
        srcs = [name + ".cc"],
        data = data,
        deps = deps + [
            ":test_services",
            "//clients",
            "//tests/support:test_paths",
            "@system//:gtest_main",
        ],
        **kwargs
    )
