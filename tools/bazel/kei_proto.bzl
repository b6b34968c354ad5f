"""kei_proto_library: C++ messages, gRPC stubs and kit handlers from .proto files.

Runs Debian's protoc with grpc_cpp_plugin and the kit's own protoc-gen-kei, and
also writes a binary descriptor set (with imports and source info) that generic
tools can load at run time. Imports resolve against the package directory and
the repository's proto/ root.
"""

_EXTENSIONS = [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc", ".kei.h", ".kei.cc"]

def kei_proto_library(name, srcs, proto_deps = [], deps = [], visibility = None):
    pkg = native.package_name()
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ext for ext in _EXTENSIONS]
    descriptor_set = name + "_descriptor_set.pb"
    plugin = "//tools/protoc-gen-kei"
    native.genrule(
        name = name + "_gen",
        srcs = srcs + proto_deps,
        outs = outs + [descriptor_set],
        tools = [plugin],
        cmd = " ".join([
            "/usr/bin/protoc",
            "-I" + pkg,
            "-Iproto",
            "--cpp_out=$(RULEDIR)",
            "--grpc_out=$(RULEDIR)",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "--kei_out=$(RULEDIR)",
            "--plugin=protoc-gen-kei=$(location " + plugin + ")",
            "--include_imports",
            "--include_source_info",
            "--descriptor_set_out=$(location " + descriptor_set + ")",
        ] + ["$(location " + src + ")" for src in srcs]),
        visibility = visibility,
    )
    native.filegroup(
        name = name + "_descriptor_set",
        srcs = [descriptor_set],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + [
            "//cc/dispatch",
            "//cc/grpc",
            "@system//:grpc",
            "@system//:protobuf",
        ],
        visibility = visibility,
    )
