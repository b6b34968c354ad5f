# kei_test: one GoogleTest binary registered as one ctest test, the CMake twin of a
# Bazel cc_test (Bazel runs a cc_test binary as a single test, so does this).
#
#   kei_test(<name>
#     SOURCES a_test.cc ...          # relative to the current source dir
#     [DEPS target ...]              # GTest::gmock_main is always linked (= @system//:gtest_main)
#     [DATA target ...]              # targets the test runs (keid, keictl, ...): built first
#     [ENV VAR=value ...]            # extra environment, on top of KEI_TEST_ENVIRONMENT
#     [ARGS arg ...]                 # command-line arguments
#     [LABELS label ...]             # ctest labels (e.g. unit, integration, interop)
#     [TIMEOUT seconds]              # default: by SIZE, as Bazel (small 60, medium 300, large 900)
#     [SIZE small|medium|large]
#     [RUN_SERIAL])                  # never alongside another test
#
# Every test gets, like under Bazel:
#   - the environment in KEI_TEST_ENVIRONMENT (a list of VAR=value, generator
#     expressions allowed; tests/CMakeLists.txt fills it with where binaries,
#     protos and descriptor sets are, see tests/support/test_paths.h);
#   - KEI_SOURCE_DIR (the repository root, the fallback of FindTestFile);
#   - TEST_TMPDIR, a private scratch directory emptied before each run;
#   - the build directory of the test as working directory.
include_guard(GLOBAL)

if(NOT DEFINED KEI_TEST_ENVIRONMENT)
  set(KEI_TEST_ENVIRONMENT "")
endif()

function(kei_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "RUN_SERIAL" "TIMEOUT;SIZE"
    "SOURCES;DEPS;DATA;ENV;ARGS;LABELS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kei_test(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCES)
    set(arg_SOURCES "${name}.cc")
  endif()
  if(NOT arg_SIZE)
    set(arg_SIZE medium)
  endif()
  if(NOT arg_TIMEOUT)
    if(arg_SIZE STREQUAL "small")
      set(arg_TIMEOUT 60)
    elseif(arg_SIZE STREQUAL "large")
      set(arg_TIMEOUT 900)
    else()
      set(arg_TIMEOUT 300)
    endif()
  endif()

  add_executable(${name} ${arg_SOURCES})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE ${arg_DEPS} GTest::gmock_main GTest::gmock GTest::gtest)
  foreach(data IN LISTS arg_DATA)
    if(TARGET ${data})
      add_dependencies(${name} ${data})
    endif()
  endforeach()

  set(tmpdir "${CMAKE_CURRENT_BINARY_DIR}/test_tmp/${name}")
  # TEST_TMPDIR starts empty on every run, as under Bazel; `exec` keeps the test's
  # own exit status and output.
  add_test(NAME ${name}
    COMMAND /bin/sh -c "rm -rf \"$TEST_TMPDIR\" && mkdir -p \"$TEST_TMPDIR\" && exec \"$0\" \"$@\""
      "$<TARGET_FILE:${name}>" ${arg_ARGS}
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  set(env "KEI_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "TEST_TMPDIR=${tmpdir}"
    ${KEI_TEST_ENVIRONMENT} ${arg_ENV})
  list(REMOVE_ITEM env "")
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "${env}"
    TIMEOUT ${arg_TIMEOUT}
    LABELS "${arg_SIZE};${arg_LABELS}")
  if(arg_RUN_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# ---- Tests read from BUILD.bazel -----------------------------------------------------
# The Bazel BUILD files are the list of tests; CMake follows them instead of keeping
# a second list. A test rule call with no nested parentheses, e.g.
#
#   cc_test(name = "x_test", size = "small", srcs = ["x_test.cc"],
#           deps = ["//cc/status", "@system//:gtest_main"], data = ["//tools/keid"])
#   integration_test(name = "y_test")          # a macro: see MACRO below
#
# becomes kei_test(x_test ...) with its labels mapped to CMake targets through
# kei_bazel_label(). A test already registered under that name (an explicit
# kei_test() for a special case) is left alone.

# kei_bazel_label(<label> <cmake target or item>...): what a Bazel label links as.
# Labels are absolute ("//cc/status:status", "@system//:absl"); a label's package
# prefix ending in "/..." ("//cc/...") maps every label below it.
function(kei_bazel_label label)
  set_property(GLOBAL PROPERTY "KEI_LABEL_${label}" "${ARGN}")
endfunction()

# Absolute form of `label` as written in the BUILD file of package `pkg`.
function(_kei_absolute_label out label pkg)
  if(label MATCHES "^:")
    set(label "//${pkg}${label}")
  elseif(label MATCHES "^[^/@:]")
    set(label "//${pkg}:${label}")
  endif()
  if(NOT label MATCHES ":")
    string(REGEX REPLACE "^.*/([^/]+)$" "\\1" last "${label}")
    set(label "${label}:${last}")
  endif()
  set(${out} "${label}" PARENT_SCOPE)
endfunction()

# CMake items for `label`; sets <out>-NOTFOUND when the label is not mapped.
function(_kei_resolve_label out label)
  get_property(items GLOBAL PROPERTY "KEI_LABEL_${label}")
  set(prefix "${label}")
  while(NOT items AND prefix MATCHES "^//.+/")
    string(REGEX REPLACE "^(//.*)/[^/]*$" "\\1" prefix "${prefix}")
    get_property(items GLOBAL PROPERTY "KEI_LABEL_${prefix}/...")
  endwhile()
  if(NOT items)
    set(items "${out}-NOTFOUND")
  endif()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# The quoted strings of attribute `attr` ("srcs", "deps", ...) in `block`.
function(_kei_bazel_list out attr block)
  set(values)
  if(block MATCHES "[ \t\r\n(,]${attr}[ \t\r\n]*=[ \t\r\n]*\\[([^]]*)\\]")
    string(REGEX MATCHALL "\"[^\"]*\"" quoted "${CMAKE_MATCH_1}")
    foreach(q IN LISTS quoted)
      string(REGEX REPLACE "^\"(.*)\"$" "\\1" v "${q}")
      list(APPEND values "${v}")
    endforeach()
  elseif(block MATCHES "[ \t\r\n(,]${attr}[ \t\r\n]*=[ \t\r\n]*\"([^\"]*)\"")
    set(values "${CMAKE_MATCH_1}")
  endif()
  set(${out} "${values}" PARENT_SCOPE)
endfunction()

# kei_tests_from_bazel(<dir relative to the current source dir>
#   [RULE rule]                 # default cc_test
#   [DEPS label...]             # labels a macro adds to every test (integration_test.bzl)
#   [DATA label...]             # likewise for data
#   [SIZE size]                 # when the call has none (default: cc_test's "medium")
#   [LABELS label...])          # ctest labels
# With a macro RULE the sources default to <dir>/<name>.cc, as the macros do.
function(kei_tests_from_bazel dir)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "RULE;SIZE" "DEPS;DATA;LABELS")
  if(NOT arg_RULE)
    set(arg_RULE cc_test)
  endif()
  set(build_file "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/BUILD.bazel")
  if(NOT EXISTS "${build_file}")
    return()
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${build_file}")
  file(RELATIVE_PATH pkg "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}/${dir}")
  file(READ "${build_file}" content)
  string(PREPEND content "\n")
  # Comments out, so a commented-out rule is not a test.
  string(REGEX REPLACE "#[^\n]*" "" content "${content}")
  string(REGEX MATCHALL "[^A-Za-z0-9_]${arg_RULE}\\([^()]*\\)" calls "${content}")
  get_property(registered DIRECTORY PROPERTY TESTS)
  foreach(call IN LISTS calls)
    _kei_bazel_list(name name "${call}")
    if(NOT name)
      message(WARNING "${pkg}/BUILD.bazel: a ${arg_RULE} without a name: ${call}")
      continue()
    endif()
    if(name IN_LIST registered)
      continue()
    endif()
    _kei_bazel_list(srcs srcs "${call}")
    if(NOT srcs)
      if(arg_RULE STREQUAL "cc_test")
        message(WARNING "${pkg}/BUILD.bazel: cc_test ${name} has no plain srcs list; register it with kei_test()")
        continue()
      endif()
      set(srcs "${name}.cc")
    endif()
    list(TRANSFORM srcs PREPEND "${dir}/")
    list(FILTER srcs INCLUDE REGEX "\\.(cc|cpp|c)$")
    _kei_bazel_list(size size "${call}")
    if(NOT size)
      set(size "${arg_SIZE}")
    endif()
    _kei_bazel_list(deps deps "${call}")
    _kei_bazel_list(data data "${call}")
    _kei_bazel_list(args args "${call}")
    if(args MATCHES "\\$\\(")
      message(WARNING "${pkg}/BUILD.bazel: ${name}: args use $(location); register it with kei_test()")
      continue()
    endif()
    set(targets)
    set(unmapped)
    foreach(label IN LISTS deps arg_DEPS)
      _kei_absolute_label(label "${label}" "${pkg}")
      _kei_resolve_label(items "${label}")
      if(NOT items)
        list(APPEND unmapped "${label}")
      else()
        list(APPEND targets ${items})
      endif()
    endforeach()
    set(data_targets)
    foreach(label IN LISTS data arg_DATA)
      _kei_absolute_label(label "${label}" "${pkg}")
      _kei_resolve_label(items "${label}")
      if(items)
        list(APPEND data_targets ${items})
      endif()
      # Data that is not a build output (protos, scripts) is found via KEI_SOURCE_DIR.
    endforeach()
    if(unmapped)
      message(WARNING "${pkg}/BUILD.bazel: ${name}: no CMake target for ${unmapped}; "
        "add kei_bazel_label() in tests/CMakeLists.txt. Test not registered.")
      continue()
    endif()
    list(REMOVE_DUPLICATES targets)
    set(size_args)
    if(size)
      set(size_args SIZE ${size})
    endif()
    set(args_args)
    if(args)
      set(args_args ARGS ${args})
    endif()
    kei_test(${name} SOURCES ${srcs} DEPS ${targets} DATA ${data_targets}
      LABELS ${arg_LABELS} ${size_args} ${args_args})
  endforeach()
endfunction()
