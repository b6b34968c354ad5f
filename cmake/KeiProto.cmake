# kei_proto_library: C++ messages, gRPC stubs and kit handlers from .proto files.
#
# The CMake twin of tools/bazel/kei_proto.bzl. Runs protoc with --cpp_out,
# --grpc_out (gRPC::grpc_cpp_plugin) and --kei_out (the kit's protoc-gen-kei), and
# writes a binary descriptor set (imports and source info included) that generic
# tools load at run time. Used by the kit's own build and, once installed, by
# projects that do find_package(kei).
#
#   kei_proto_library(<name>
#     PROTOS      a.proto ...        # relative to the current source dir, or absolute
#     [PROTO_ROOT dir]               # import root the PROTOS live under (default: current source dir)
#     [IMPORT_DIRS dir ...]          # further import roots (the kit's proto/ is always added)
#     [DEPS target ...]              # kei_proto_library targets (or others) the protos import
#     [STATIC|SHARED|SOURCES_ONLY])
#
# SOURCES_ONLY makes no library: it only sets <name>_SRCS, <name>_HDRS,
# <name>_REL_HDRS, <name>_GEN_DIR and <name>_DESCRIPTOR_SET in the caller's
# scope, for a library that compiles the generated code into itself (the
# kit's runtime does this for kei/v1/stream.proto, which it serves).
#
# Generated files go to ${CMAKE_CURRENT_BINARY_DIR}/gen/<path relative to PROTO_ROOT>;
# that directory is a PUBLIC include directory of <name> at build time, so
# `#include "kei/agent/v1/agent.pb.h"` works. The descriptor set is
# ${CMAKE_CURRENT_BINARY_DIR}/<name>_descriptor_set.pb.
#
# Properties set on <name> for install rules and tests:
#   KEI_PROTO_FILES       absolute paths of the PROTOS
#   KEI_PROTO_GEN_DIR     the gen directory
#   KEI_PROTO_HEADERS     generated headers, relative to the gen directory
#   KEI_DESCRIPTOR_SET    absolute path of the descriptor set
include_guard(GLOBAL)

# The kit's proto root: the source tree's proto/ in-tree, share/kei/proto once
# installed (keiConfig.cmake sets KEI_PROTO_DIR before including this file).
if(NOT DEFINED KEI_PROTO_DIR)
  set(KEI_PROTO_DIR "${CMAKE_CURRENT_LIST_DIR}/../proto")
  cmake_path(NORMAL_PATH KEI_PROTO_DIR)
endif()

function(kei_proto_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "STATIC;SHARED;SOURCES_ONLY" "PROTO_ROOT" "PROTOS;IMPORT_DIRS;DEPS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kei_proto_library(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_PROTOS)
    message(FATAL_ERROR "kei_proto_library(${name}): PROTOS is required")
  endif()
  if(NOT arg_PROTO_ROOT)
    set(arg_PROTO_ROOT "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  cmake_path(ABSOLUTE_PATH arg_PROTO_ROOT BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)

  # Plugins: the kit's own (built in-tree or installed) and gRPC's.
  if(TARGET kei::protoc-gen-kei)
    set(kei_plugin kei::protoc-gen-kei)
  else()
    message(FATAL_ERROR "kei_proto_library(${name}): no kei::protoc-gen-kei target")
  endif()
  if(TARGET kei::runtime OR arg_SOURCES_ONLY)
    set(kei_runtime kei::runtime)
  else()
    message(FATAL_ERROR "kei_proto_library(${name}): no kei::runtime target")
  endif()

  set(gen_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  set(descriptor_set "${CMAKE_CURRENT_BINARY_DIR}/${name}_descriptor_set.pb")

  # Import roots, as Bazel's: the package's root, then the kit's proto/.
  set(import_args "-I${arg_PROTO_ROOT}")
  foreach(dir IN LISTS arg_IMPORT_DIRS KEI_PROTO_DIR)
    cmake_path(ABSOLUTE_PATH dir BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
    list(APPEND import_args "-I${dir}")
  endforeach()
  list(REMOVE_DUPLICATES import_args)

  set(proto_files)
  set(srcs)
  set(hdrs)
  set(rel_hdrs)
  foreach(proto IN LISTS arg_PROTOS)
    cmake_path(ABSOLUTE_PATH proto BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
    cmake_path(IS_PREFIX arg_PROTO_ROOT "${proto}" NORMALIZE under_root)
    if(NOT under_root)
      message(FATAL_ERROR "kei_proto_library(${name}): ${proto} is not under PROTO_ROOT ${arg_PROTO_ROOT}")
    endif()
    file(RELATIVE_PATH rel "${arg_PROTO_ROOT}" "${proto}")
    string(REGEX REPLACE "\\.proto$" "" base "${rel}")
    list(APPEND proto_files "${proto}")
    foreach(ext .pb.cc .grpc.pb.cc .kei.cc)
      list(APPEND srcs "${gen_dir}/${base}${ext}")
    endforeach()
    foreach(ext .pb.h .grpc.pb.h .kei.h)
      list(APPEND hdrs "${gen_dir}/${base}${ext}")
      list(APPEND rel_hdrs "${base}${ext}")
    endforeach()
  endforeach()

  # Protos of dependencies: a change there regenerates this library too.
  set(dep_protos)
  foreach(dep IN LISTS arg_DEPS)
    if(TARGET ${dep})
      get_target_property(dep_files ${dep} KEI_PROTO_FILES)
      if(dep_files)
        list(APPEND dep_protos ${dep_files})
      endif()
    endif()
  endforeach()

  file(MAKE_DIRECTORY "${gen_dir}")
  add_custom_command(
    OUTPUT ${srcs} ${hdrs} "${descriptor_set}"
    COMMAND protobuf::protoc
      ${import_args}
      "--cpp_out=${gen_dir}"
      "--grpc_out=${gen_dir}"
      "--plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>"
      "--kei_out=${gen_dir}"
      "--plugin=protoc-gen-kei=$<TARGET_FILE:${kei_plugin}>"
      --include_imports
      --include_source_info
      "--descriptor_set_out=${descriptor_set}"
      ${proto_files}
    DEPENDS ${proto_files} ${dep_protos} ${kei_plugin} gRPC::grpc_cpp_plugin protobuf::protoc
    COMMENT "kei_proto_library ${name}: protoc ${arg_PROTOS}"
    VERBATIM
    COMMAND_EXPAND_LISTS)

  if(arg_SOURCES_ONLY)
    set(${name}_SRCS "${srcs}" PARENT_SCOPE)
    set(${name}_HDRS "${hdrs}" PARENT_SCOPE)
    set(${name}_REL_HDRS "${rel_hdrs}" PARENT_SCOPE)
    set(${name}_GEN_DIR "${gen_dir}" PARENT_SCOPE)
    set(${name}_DESCRIPTOR_SET "${descriptor_set}" PARENT_SCOPE)
    return()
  endif()
  set(type STATIC)
  if(arg_SHARED)
    set(type SHARED)
  endif()
  add_library(${name} ${type} ${srcs} ${hdrs})
  target_compile_features(${name} PUBLIC cxx_std_20)
  target_include_directories(${name} PUBLIC
    "$<BUILD_INTERFACE:${gen_dir}>"
    "$<INSTALL_INTERFACE:include/kei>")
  target_link_libraries(${name} PUBLIC
    ${arg_DEPS}
    ${kei_runtime}
    gRPC::grpc++
    protobuf::libprotobuf)
  set_target_properties(${name} PROPERTIES
    KEI_PROTO_FILES "${proto_files}"
    KEI_PROTO_GEN_DIR "${gen_dir}"
    KEI_PROTO_HEADERS "${rel_hdrs}"
    KEI_DESCRIPTOR_SET "${descriptor_set}")
endfunction()
