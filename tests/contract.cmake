# Contract tests: the event JSON Schema and its examples, the SQL migrations and their runner.

add_executable(test_migrate ${CMAKE_CURRENT_LIST_DIR}/test_migrate.c)
target_include_directories(test_migrate PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_migrate PRIVATE rt_db Threads::Threads)

rt_service_test(integration.migrate AS migrate LABELS integration TIMEOUT 120
                COMMAND $<TARGET_FILE:test_migrate>)

# The JSON Schema and every example, checked by an independent validator (Debian's
# python3-jsonschema; /usr/bin/python3 because other pythons on PATH may lack it).
add_test(NAME unit.contract.schema
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/contract/check_examples.py ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.contract.schema PROPERTIES LABELS unit TIMEOUT 60)

# What the real producer writes to Kafka conforms to the schema (CLI -> dev broker -> topic_dump
# -> python3-jsonschema).
add_executable(topic_dump ${CMAKE_CURRENT_LIST_DIR}/contract/topic_dump.c)
target_link_libraries(topic_dump PRIVATE PkgConfig::RDKAFKA)
rt_service_test(integration.contract.producer AS contract_producer LABELS integration TIMEOUT 120
                COMMAND ${CMAKE_CURRENT_LIST_DIR}/contract/producer_conforms.sh
                        $<TARGET_FILE:runtrack_cli> $<TARGET_FILE:topic_dump> ${PROJECT_SOURCE_DIR})

# The consumer's decoder agrees with the same examples: valid ones decode, invalid ones are
# dead-lettered with the reason in REASONS.tsv column 5.
add_executable(test_contract_decode ${CMAKE_CURRENT_LIST_DIR}/test_contract_decode.c)
target_include_directories(test_contract_decode PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_contract_decode PRIVATE rt_consumer)
add_test(NAME unit.contract.decode COMMAND test_contract_decode ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.contract.decode PROPERTIES LABELS unit TIMEOUT 60)

# The examples end to end: scenarios' expected rows and invalid examples' dead letters, through
# Kafka and the real runtrack-consumer into PostgreSQL, twice (replay is idempotent).
add_executable(topic_produce ${CMAKE_CURRENT_LIST_DIR}/contract/topic_produce.c)
target_link_libraries(topic_produce PRIVATE PkgConfig::RDKAFKA)
if(TARGET runtrack-consumer)
  rt_service_test(integration.contract.scenarios AS contract_scenarios LABELS integration
                  TIMEOUT 120
                  COMMAND ${CMAKE_CURRENT_LIST_DIR}/contract/scenarios_e2e.sh
                          $<TARGET_FILE:runtrack-consumer> $<TARGET_FILE:topic_produce>
                          ${PROJECT_SOURCE_DIR})
endif()
