# rt_api: the HTTP API (server, runs/jobs/health handlers, metrics, maintenance) that
# runtrack-consumer runs in-process. include() this from consumer/CMakeLists.txt and link rt_api;
# start it with rt_api_start() (consumer/http_api.h). Needs the PkgConfig targets and Threads
# found by the top-level CMakeLists.txt.
include_guard(GLOBAL)

# The dashboard (consumer/web/*) is compiled in as a table of {path, content type, bytes, ETag}
# served at / and /assets/... (see consumer/web/embed_web.cmake).
set(_rt_web_dir ${CMAKE_CURRENT_LIST_DIR}/web)
set(_rt_web_gen ${CMAKE_CURRENT_BINARY_DIR}/web_assets.c)
file(GLOB _rt_web_files CONFIGURE_DEPENDS ${_rt_web_dir}/*.html ${_rt_web_dir}/*.css
     ${_rt_web_dir}/*.js ${_rt_web_dir}/*.svg)
add_custom_command(
  OUTPUT ${_rt_web_gen}
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${_rt_web_dir} -DOUT=${_rt_web_gen}
          -P ${_rt_web_dir}/embed_web.cmake
  DEPENDS ${_rt_web_files} ${_rt_web_dir}/embed_web.cmake ${PROJECT_SOURCE_DIR}/cmake/rt_embed.cmake
  COMMENT "Embedding consumer/web/*"
  VERBATIM)

add_library(rt_api STATIC
  ${_rt_web_gen}
  ${CMAKE_CURRENT_LIST_DIR}/http_api.c
  ${CMAKE_CURRENT_LIST_DIR}/api_runs.c
  ${CMAKE_CURRENT_LIST_DIR}/health.c
  ${CMAKE_CURRENT_LIST_DIR}/maintenance.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c)
target_include_directories(rt_api PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${_rt_web_dir})
target_link_libraries(rt_api PUBLIC PkgConfig::MHD PkgConfig::JANSSON PkgConfig::PQ rt_common
                      Threads::Threads m)
