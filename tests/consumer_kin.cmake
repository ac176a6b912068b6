# kafka_in against the dev broker: memory-bounding librdkafka defaults (and their override),
# batches that close when the fetch queue runs empty.
add_executable(test_consumer_kin test_consumer_kin.c)
target_link_libraries(test_consumer_kin PRIVATE rt_consumer)
target_include_directories(test_consumer_kin PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME consumer.kin
  COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh consumer.kin --
          $<TARGET_FILE:test_consumer_kin>)
set_tests_properties(consumer.kin PROPERTIES FIXTURES_REQUIRED services LABELS integration
                     TIMEOUT 60)
