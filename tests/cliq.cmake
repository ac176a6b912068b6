# The CLI's query commands (runtrack runs/show/logs/last-success/health) over HTTP.
# unit: against a scripted HTTP server (answers the real API never gives: bad JSON, 500, 401,
#       a cut connection; paging; the bearer token) -- no services needed.
# integration: against a real runtrack-consumer (in-process API on a free port), the suite's
#       PostgreSQL and dev broker, with runs created by the producer CLI.
if(TARGET runtrack_cli)
  add_test(NAME unit.cliq
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cliq/test_cliq_unit.py
                   $<TARGET_FILE:runtrack_cli>)
  set_tests_properties(unit.cliq PROPERTIES LABELS unit TIMEOUT 120)
endif()

if(TARGET runtrack_cli AND TARGET runtrack-consumer)
  rt_service_test(integration.cliq AS cliq LABELS integration TIMEOUT 120
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cliq/test_cliq.py
                          $<TARGET_FILE:runtrack_cli> $<TARGET_FILE:runtrack-consumer>)
endif()
