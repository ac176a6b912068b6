# HTTP API tests (rt_api: consumer/api/).

add_executable(test_api ${CMAKE_CURRENT_LIST_DIR}/test_api.c)
target_include_directories(test_api PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_api PRIVATE rt_api rt_core)
add_test(NAME unit.api COMMAND test_api)
set_tests_properties(unit.api PROPERTIES LABELS unit)

# rt_api_serve: the API alone against RUNTRACK_PG_DSN (see tests/api_server_main.c).
add_executable(rt_api_serve ${CMAKE_CURRENT_LIST_DIR}/api_server_main.c)
target_link_libraries(rt_api_serve PRIVATE rt_api rt_db rt_core)

# Every endpoint over real HTTP against the suite's PostgreSQL (SQL fixtures; python3 urllib and
# Debian's python3-prometheus-client to parse /metrics).
rt_service_test(integration.api.http AS api_http LABELS integration TIMEOUT 120
                COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_http.py
                        $<TARGET_FILE:rt_api_serve>)

# Runs reported with the producer CLI, consumed by runtrack-consumer, served by the API.
if(TARGET runtrack_cli AND TARGET runtrack-consumer)
  rt_service_test(integration.api.e2e AS api_e2e LABELS integration TIMEOUT 120
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_e2e.py
                          $<TARGET_FILE:runtrack_cli> $<TARGET_FILE:runtrack-consumer>
                          $<TARGET_FILE:rt_api_serve>)
endif()

# /api/health and /api/runs on 30,000 runs: figures equal the plain aggregate, and neither reads
# runs by a sequential scan (their cost follows jobs and recent runs, not the history).
rt_service_test(integration.api.scale AS api_scale LABELS integration TIMEOUT 120
                COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_scale.py
                        $<TARGET_FILE:rt_api_serve>)

# The report cache of /api/health and /api/jobs: hits without PostgreSQL, single flight, TTL,
# refresh ahead, off switch.
rt_service_test(integration.api.cache AS api_cache LABELS integration TIMEOUT 120
                COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_cache.py
                        $<TARGET_FILE:rt_api_serve>)

# The health report's rules and JSON text, without a database (consumer/api/health_rules.c).
add_executable(test_health_rules ${CMAKE_CURRENT_LIST_DIR}/test_health_rules.c)
target_include_directories(test_health_rules PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_health_rules PRIVATE rt_api)
add_test(NAME unit.api.health_rules COMMAND test_health_rules)
set_tests_properties(unit.api.health_rules PROPERTIES LABELS unit)

# API keys, scopes and the audit trail: docs/api.md's scope table equals the route table and
# every row is walked allowed and denied; revoked, expired and out-of-glob keys are refused; the
# keys command; safe defaults; no key or secret in answers, log or tables.
if(TARGET runtrack-consumer)
  rt_service_test(integration.api.auth AS api_auth LABELS integration TIMEOUT 120
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_auth.py
                          $<TARGET_FILE:rt_api_serve> $<TARGET_FILE:runtrack-consumer>
                          ${PROJECT_SOURCE_DIR})
endif()
# The dashboard login: session cookie attributes (Secure under HTTPS / http_cookie_secure), the
# CSRF token on state-changing cookie requests, logout, sessions of revoked keys and expired or
# idle ones refused, the failed-login limit (429), audit rows, no session id or token leaked.
if(TARGET runtrack-consumer)
  rt_service_test(integration.api.session AS api_session LABELS integration TIMEOUT 120
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api/test_session.py
                          $<TARGET_FILE:rt_api_serve> $<TARGET_FILE:runtrack-consumer>)
endif()
