# Settings (consumer/config.c): secrets masked by parsing, http_allowed_hosts syntax.
add_executable(test_config ${CMAKE_CURRENT_LIST_DIR}/test_config.c)
target_include_directories(test_config PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_config PRIVATE rt_core)
add_test(NAME unit.config COMMAND test_config)
set_tests_properties(unit.config PROPERTIES LABELS unit)
