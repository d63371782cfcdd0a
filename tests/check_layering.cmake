# Checks the layering rule of ../shared/architecture.md on every
# `#include "..."` in the code folders under ROOT:
#
#   src/base                 may include: src/base
#   ledger                   may include: ledger, src/base
#   src/domain               may include: src/domain, src/base
#   policies                 may include: policies, src/domain, src/base
#   adapters                 may include: adapters, src/domain, src/base
#   src/<other> (services)   may include: anything but src/app
#   src/app (the mains)      may include: anything
#
# So ledger, policies and adapters never include each other, nothing below
# src/app knows the mains, and includes only point downwards.
# Usage: cmake -DROOT=<repo> -P check_layering.cmake   (fails on a violation)
if(NOT ROOT)
  message(FATAL_ERROR "pass -DROOT=<repository root>")
endif()

function(layer_of path out)
  if(path MATCHES "^src/([^/]+)/")
    set(${out} "src/${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(path MATCHES "^(ledger|policies|adapters)/")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(allowed from to out)
  set(ok FALSE)
  if(from STREQUAL to OR to STREQUAL "src/base")
    set(ok TRUE)
  elseif(from STREQUAL "src/base")
    set(ok FALSE)
  elseif(from STREQUAL "ledger")
    set(ok FALSE)
  elseif(from STREQUAL "src/domain")
    set(ok FALSE)
  elseif(from STREQUAL "policies" OR from STREQUAL "adapters")
    if(to STREQUAL "src/domain")
      set(ok TRUE)
    endif()
  elseif(from STREQUAL "src/app")
    set(ok TRUE)
  elseif(from MATCHES "^src/")
    if(NOT to STREQUAL "src/app")
      set(ok TRUE)
    endif()
  endif()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE files RELATIVE ${ROOT}
  ${ROOT}/src/*.h ${ROOT}/src/*.cc ${ROOT}/ledger/*.h ${ROOT}/ledger/*.cc
  ${ROOT}/policies/*.h ${ROOT}/policies/*.cc ${ROOT}/adapters/*.h ${ROOT}/adapters/*.cc)
set(violations 0)
set(checked 0)
foreach(f IN LISTS files)
  layer_of(${f} from)
  if(from STREQUAL "")
    continue()
  endif()
  file(STRINGS ${ROOT}/${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*$" "\\1" inc "${line}")
    layer_of(${inc} to)
    math(EXPR checked "${checked} + 1")
    if(to STREQUAL "")
      message(SEND_ERROR "${f}: include \"${inc}\" is not rooted at a layer folder (write it from the repository root)")
      math(EXPR violations "${violations} + 1")
      continue()
    endif()
    allowed(${from} ${to} ok)
    if(NOT ok)
      message(SEND_ERROR "${f}: ${from} must not include ${to} (\"${inc}\")")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()
if(violations GREATER 0)
  message(FATAL_ERROR "layering: ${violations} violation(s)")
endif()
message(STATUS "layering: ${checked} includes checked, all point the allowed way")
