# rt_migrate: the schema migration runner (consumer/migrate.c) plus the SQL of
# schemas/sql/*.sql embedded at build time. include() this from consumer/CMakeLists.txt and link
# rt_migrate; it needs libpq (PkgConfig::PQ, found by the top-level CMakeLists.txt).
include_guard(GLOBAL)

set(_rt_sql_dir ${PROJECT_SOURCE_DIR}/schemas/sql)
set(_rt_embed ${PROJECT_SOURCE_DIR}/schemas/embed_sql.cmake)
set(_rt_gen ${CMAKE_CURRENT_BINARY_DIR}/migrations_sql.c)
# CONFIGURE_DEPENDS: a newly added migration file is picked up by the next build.
file(GLOB _rt_sql_files CONFIGURE_DEPENDS ${_rt_sql_dir}/*.sql)

add_custom_command(
  OUTPUT ${_rt_gen}
  COMMAND ${CMAKE_COMMAND} -DSQL_DIR=${_rt_sql_dir} -DOUT=${_rt_gen} -P ${_rt_embed}
  DEPENDS ${_rt_sql_files} ${_rt_embed} ${PROJECT_SOURCE_DIR}/cmake/rt_embed.cmake
  COMMENT "Embedding schemas/sql/*.sql"
  VERBATIM)

add_library(rt_migrate STATIC ${CMAKE_CURRENT_LIST_DIR}/migrate.c ${_rt_gen})
target_include_directories(rt_migrate PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(rt_migrate PUBLIC PkgConfig::PQ)
