# Deployment tests (issue 9): the demo, the container's commands run natively, the compose file.
# deploy.demo starts its own PostgreSQL/broker/consumer (like `make demo`), so it needs no fixture.
# ~50 s each on the shared 2-core machine (PostgreSQL start-up is most of it).
add_test(NAME deploy.demo
         COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/test_demo.sh ${CMAKE_BINARY_DIR} exit)
add_test(NAME deploy.demo_interrupt
         COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/test_demo.sh ${CMAKE_BINARY_DIR} interrupt)
set_tests_properties(deploy.demo deploy.demo_interrupt PROPERTIES LABELS integration TIMEOUT 240)

# migrate, then run, environment only (deploy/docker-entrypoint.sh, deploy/healthcheck.sh), also
# as the least-privilege role of deploy/sql/runtrack_role.sql.
rt_service_test(deploy.container AS deploy_container LABELS integration TIMEOUT 180
                COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/test_container.sh)

add_test(NAME deploy.compose COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/test_compose.sh)
set_tests_properties(deploy.compose PROPERTIES LABELS unit TIMEOUT 60
                     ENVIRONMENT RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR})
