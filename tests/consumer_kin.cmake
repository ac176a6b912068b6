# kafka_in against the dev broker: memory-bounding librdkafka defaults (and their override),
# batches that close when the fetch queue runs empty.
add_executable(test_consumer_kin test_consumer_kin.c)
target_link_libraries(test_consumer_kin PRIVATE rt_consumer)
target_include_directories(test_consumer_kin PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
rt_service_test(consumer.kin LABELS integration TIMEOUT 60 COMMAND $<TARGET_FILE:test_consumer_kin>)
