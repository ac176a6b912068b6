# rt_api: the HTTP API (server, runs/jobs/health handlers, metrics, maintenance) that
# runtrack-consumer runs in-process. include() this from consumer/CMakeLists.txt and link rt_api;
# start it with rt_api_start() (consumer/http_api.h). Needs the PkgConfig targets and Threads
# found by the top-level CMakeLists.txt.
include_guard(GLOBAL)

add_library(rt_api STATIC
  ${CMAKE_CURRENT_LIST_DIR}/http_api.c
  ${CMAKE_CURRENT_LIST_DIR}/api_runs.c
  ${CMAKE_CURRENT_LIST_DIR}/health.c
  ${CMAKE_CURRENT_LIST_DIR}/maintenance.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c)
target_include_directories(rt_api PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(rt_api PUBLIC PkgConfig::MHD PkgConfig::JANSSON PkgConfig::PQ rt_common
                      Threads::Threads m)
