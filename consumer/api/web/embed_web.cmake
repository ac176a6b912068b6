# Script mode (cmake -P): turns the dashboard's files (consumer/api/web/*.html|css|js|svg) into a C
# source holding rt_web_assets[] = {path, content type, bytes, size, ETag} (web_assets.h) that
# consumer/api/server.c serves, so the consumer binary carries its web page and needs no files,
# no CDN and no network at run time.
#   cmake -DWEB_DIR=<consumer/web> -DOUT=<generated .c> -P embed_web.cmake
# index.html is served at /index.html (and /); every other file at /assets/<name>. Bytes are
# emitted as arrays (cmake/rt_embed.cmake, shared with schemas/embed_sql.cmake).
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/../../../cmake/rt_embed.cmake)
rt_embed_args(embed_web.cmake WEB_DIR OUT)
get_filename_component(WEB_DIR "${WEB_DIR}" ABSOLUTE)
rt_embed_glob(_files "${WEB_DIR}" "*.html" "*.css" "*.js" "*.svg")

set(_body "")
set(_table "")
set(_count 0)
set(_have_index 0)
foreach(_f ${_files})
  if(NOT _f MATCHES "^[a-z0-9_-]+\\.(html|css|js|svg)$")
    message(FATAL_ERROR "embed_web.cmake: ${_f}: names must be [a-z0-9_-].(html|css|js|svg)")
  endif()
  set(_ext "${CMAKE_MATCH_1}")
  if(_ext STREQUAL "html")
    set(_ctype "text/html; charset=utf-8")
  elseif(_ext STREQUAL "css")
    set(_ctype "text/css; charset=utf-8")
  elseif(_ext STREQUAL "js")
    set(_ctype "text/javascript; charset=utf-8")
  else()
    set(_ctype "image/svg+xml")
  endif()
  if(_f STREQUAL "index.html")
    set(_path "/index.html")
    set(_have_index 1)
  else()
    set(_path "/assets/${_f}")
  endif()
  file(SHA256 "${WEB_DIR}/${_f}" _sha)
  string(SUBSTRING "${_sha}" 0 20 _etag)
  string(MAKE_C_IDENTIFIER "web_${_f}" _id)
  rt_embed_array(_arr "${WEB_DIR}/${_f}" ${_id})
  set(_size ${_arr_SIZE})
  string(APPEND _body "${_arr}")
  string(APPEND _table "    {\"${_path}\", \"${_ctype}\", ${_id}, ${_size}, \"\\\"${_etag}\\\"\"},\n")
  math(EXPR _count "${_count} + 1")
endforeach()

if(NOT _have_index)
  message(FATAL_ERROR "embed_web.cmake: no index.html in ${WEB_DIR}")
endif()

rt_embed_source("${OUT}" consumer/api/web/embed_web.cmake consumer/api/web/ web_assets.h
                "${_body}" rt_web_asset_t rt_web_assets "${_table}" ${_count})
