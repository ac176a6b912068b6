# The Python package (clients/python, import name runtrack) under pytest (Debian's
# python3-pytest) against the suite's dev broker and PostgreSQL with a real runtrack-consumer:
# offline install into a fresh venv + a seed-000 scraper, values that must never raise, seed
# 001's discovery service and last_successful_run over the HTTP API, runtrack.run(), the logging
# handler, threads/asyncio never blocked, fork, client-supplied run ids.
if(TARGET runtrack-consumer AND TARGET runtrack)
  rt_service_test(integration.python AS python LABELS integration TIMEOUT 120
                  COMMAND ${CMAKE_CURRENT_LIST_DIR}/python/run_pytest.sh
                          $<TARGET_FILE:runtrack-consumer>)
endif()
