# Unit tests of the shared code in common/.
add_executable(test_common test_common.c)
target_link_libraries(test_common PRIVATE rt_common)
add_test(NAME unit.common COMMAND test_common)
set_tests_properties(unit.common PROPERTIES LABELS unit)
