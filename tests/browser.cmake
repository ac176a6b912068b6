# The web dashboard in Debian's chromium (playwright-core from tests/browser's lockfile) against
# a real runtrack-consumer fed by the runtrack CLI during the test. Label `browser`; ~30 s (more on a loaded machine: chromium start-up).
# unit.web: the embedded files are complete and consistent (no browser needed).
add_executable(test_web_assets ${CMAKE_CURRENT_LIST_DIR}/browser/test_web_assets.c)
target_include_directories(test_web_assets PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_web_assets PRIVATE rt_api)
add_test(NAME unit.web COMMAND test_web_assets)
set_tests_properties(unit.web PROPERTIES LABELS unit)

if(TARGET runtrack_cli AND TARGET runtrack-consumer)
  rt_service_test(browser.dashboard AS browser_dashboard LABELS browser TIMEOUT 240
                  COMMAND ${CMAKE_CURRENT_LIST_DIR}/browser/run.sh $<TARGET_FILE:runtrack_cli>
                          $<TARGET_FILE:runtrack-consumer>)
endif()
