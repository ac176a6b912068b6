# The web dashboard in Debian's chromium (playwright-core from tests/browser's lockfile) against
# a real runtrack-consumer fed by the runtrack CLI during the test. Label `browser`; ~30 s (more on a loaded machine: chromium start-up).
if(TARGET runtrack_cli AND TARGET runtrack-consumer)
  add_test(NAME browser.dashboard
           COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh browser_dashboard --
                   ${CMAKE_CURRENT_LIST_DIR}/browser/run.sh
                   $<TARGET_FILE:runtrack_cli> $<TARGET_FILE:runtrack-consumer>)
  set_tests_properties(browser.dashboard PROPERTIES LABELS browser FIXTURES_REQUIRED services
                       TIMEOUT 240)
endif()
