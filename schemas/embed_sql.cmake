# Script mode (cmake -P): turns schemas/sql/NNNN_name.sql into a C source holding the table
# rt_migrations[] = {version, name, sql} that consumer/db/migrate.c applies, so the consumer binary
# carries its schema and needs no files at run time.
#   cmake -DSQL_DIR=<dir with *.sql> -DOUT=<generated .c> -P embed_sql.cmake
# The SQL is emitted as byte arrays (cmake/rt_embed.cmake), not string literals.
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/rt_embed.cmake)
rt_embed_args(embed_sql.cmake SQL_DIR OUT)
get_filename_component(SQL_DIR "${SQL_DIR}" ABSOLUTE)
rt_embed_glob(_files "${SQL_DIR}" "*.sql")

set(_body "")
set(_table "")
set(_seen "")
set(_count 0)
foreach(_f ${_files})
  if(NOT _f MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "embed_sql.cmake: ${_f} is not named NNNN_name.sql (name: [a-z0-9_])")
  endif()
  set(_vtext "${CMAKE_MATCH_1}")
  set(_name "${CMAKE_MATCH_2}")
  # Strip leading zeros so the C literal is decimal, not octal.
  string(REGEX REPLACE "^0+" "" _v "${_vtext}")
  if(_v STREQUAL "")
    message(FATAL_ERROR "embed_sql.cmake: ${_f}: version 0000 is reserved")
  endif()
  if(_v IN_LIST _seen)
    message(FATAL_ERROR "embed_sql.cmake: two migrations with version ${_vtext}")
  endif()
  list(APPEND _seen ${_v})

  rt_embed_array(_arr "${SQL_DIR}/${_f}" sql_${_vtext})
  if(_arr_SIZE EQUAL 0)
    message(FATAL_ERROR "embed_sql.cmake: ${_f} is empty")
  endif()
  if(_arr_HAS_NUL)
    message(FATAL_ERROR "embed_sql.cmake: ${_f} contains a NUL byte")
  endif()
  string(APPEND _body "${_arr}")
  string(APPEND _table "    {${_v}, \"${_name}\", (const char *)sql_${_vtext}},\n")
  math(EXPR _count "${_count} + 1")
endforeach()

if(_count EQUAL 0)
  message(FATAL_ERROR "embed_sql.cmake: no *.sql files in ${SQL_DIR}")
endif()

rt_embed_source("${OUT}" schemas/embed_sql.cmake "the files in schemas/sql/" db/migrate.h
                "${_body}" rt_migration_t rt_migrations "${_table}" ${_count})
