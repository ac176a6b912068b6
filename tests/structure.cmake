# The tree's shape, checked on every `make test` (tests/structure/check_structure.py): no include
# cycle between units (x.c + x.h), no function over 120 lines in producer/, consumer/ and common/,
# and each consumer part includes only what it may. The self-test plants small trees proving
# that the check fails and passes when it should. Python 3 standard library only.
add_test(NAME unit.structure.selftest
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/structure/selftest.py)
add_test(NAME unit.structure
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/structure/check_structure.py
                 --root ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.structure.selftest unit.structure PROPERTIES LABELS unit TIMEOUT 120)
