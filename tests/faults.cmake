# Reliability and security suite (issue 8, docs/reliability.md). Every fault test appends one row
# to ${CMAKE_BINARY_DIR}/faults/report.tsv (tests/faults/lib.sh); faults.report prints the table
# and fails when any anomaly count is not 0. Short variants carry label `integration` (make test,
# seconds each); the full ones label `fault` (make test-faults).
set(_fdir ${PROJECT_SOURCE_DIR}/tests/faults)
set(_freport ${CMAKE_BINARY_DIR}/faults/report.tsv)

add_test(NAME faults.report.reset COMMAND ${CMAKE_COMMAND} -E rm -f ${_freport})
set_tests_properties(faults.report.reset PROPERTIES FIXTURES_SETUP faultreport
                     LABELS "integration;fault")
add_test(NAME faults.report COMMAND python3 ${_fdir}/report.py ${_freport})
set_tests_properties(faults.report PROPERTIES FIXTURES_CLEANUP faultreport
                     LABELS "integration;fault" TIMEOUT 30)

# rt_fault_test(NAME TIMEOUT LABELS COMMAND...): a test on the shared services (fresh database
# and topic) that writes a row of the fault table.
function(rt_fault_test name timeout labels)
  rt_service_test(${name} LABELS ${labels} TIMEOUT ${timeout} FIXTURES faultreport COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES
                       ENVIRONMENT "RUNTRACK_FAULTS_REPORT=${_freport};FL_NAME=${name}")
endfunction()

# Consumer: kill -9 (the 10-kill make-test version is consumer.kill9), zombie fenced out,
# pg_terminate_backend mid-batch/mid-commit, coordinator down + group request errors.
rt_fault_test(faults.consumer.kill9_100 1800 fault ${_fdir}/consumer_faults.sh kill9 100 2000)
rt_fault_test(faults.consumer.zombie 180 "integration;fault" ${_fdir}/consumer_faults.sh zombie 300)
rt_fault_test(faults.consumer.pgterm 180 integration ${_fdir}/consumer_faults.sh pgterm 6 300)
rt_fault_test(faults.consumer.pgterm_long 600 fault ${_fdir}/consumer_faults.sh pgterm 40 2000)
rt_fault_test(faults.consumer.coord 240 "integration;fault" ${_fdir}/consumer_faults.sh coord 300)

# libFuzzer (clang, own build dir under this build): decoder/validator, consumer settings loader,
# libruntrack conf parsing.
add_test(NAME faults.fuzz COMMAND ${CMAKE_COMMAND} -E env RUNTRACK_SOURCE_DIR=${PROJECT_SOURCE_DIR}
         RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR} RUNTRACK_FAULTS_REPORT=${_freport}
         ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh 8)
set_tests_properties(faults.fuzz PROPERTIES FIXTURES_REQUIRED faultreport LABELS integration
                     TIMEOUT 300)
add_test(NAME faults.fuzz_long COMMAND ${CMAKE_COMMAND} -E env RUNTRACK_SOURCE_DIR=${PROJECT_SOURCE_DIR}
         RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR} RUNTRACK_FAULTS_REPORT=${_freport}
         ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh 60)
set_tests_properties(faults.fuzz_long PROPERTIES FIXTURES_REQUIRED faultreport LABELS fault
                     TIMEOUT 900)

# Hostile records sent with kcat (tests/faults/badinput.py: the corpus and its expectations).
rt_fault_test(faults.badinput 120 "integration;fault" ${_fdir}/badinput.sh)

# A restarted scraper re-sending (new producer ids, same run ids and seqs).
rt_fault_test(faults.consumer.resend 120 "integration;fault" ${_fdir}/consumer_faults.sh resend 300)
# Environment errors are waited out, never dead-lettered, and stalls show in /readyz and
# /metrics: INSERT revoked from the consumer's role, a read-only server, a table lock.
rt_fault_test(faults.env.privilege 120 "integration;fault" ${_fdir}/envstall.sh privilege)
rt_fault_test(faults.env.readonly 120 "integration;fault" ${_fdir}/envstall.sh readonly)
rt_fault_test(faults.env.lock 120 "integration;fault" ${_fdir}/envstall.sh lock)
# SASL/TLS pass-through, secrets never printed, least-privilege PostgreSQL role.
rt_fault_test(faults.security 240 "integration;fault" ${_fdir}/security.sh)

# HTTP API abuse against rt_api_serve (the consumer's HTTP code): hostile requests, slowloris.
if(TARGET rt_api_serve)
  rt_fault_test(faults.http_abuse 120 "integration;fault" ${_fdir}/http_abuse.sh
                $<TARGET_FILE:rt_api_serve> 200 6)
endif()

# Producer: Produce request errors, leader moves, high RTT, brokers down (private dev broker).
rt_fault_test(faults.producer 180 "integration;fault" ${_fdir}/producer_faults.sh)
set_tests_properties(faults.producer PROPERTIES ENVIRONMENT
  "RUNTRACK_FAULTS_REPORT=${_freport};FL_NAME=faults.producer;RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>")

# Producer faults through libruntrack (tests/faults/producer_lib_faults.c): per-call timing
# ("blocked"), peak memory, failure-callback reports vs the topic read back with kcat.
add_executable(producer_lib_faults ${_fdir}/producer_lib_faults.c)
target_include_directories(producer_lib_faults PRIVATE ${PROJECT_SOURCE_DIR}/tests/lib)
target_link_libraries(producer_lib_faults PRIVATE runtrack_static Threads::Threads)
# Short variants in make test; long ones (more threads, runs, lines, a longer outage) label fault.
# rtt: 500/750/1000 ms RTT, log.queue.max 1,000, queue.buffering.max.messages 1,000.
# down: message.timeout.ms 3,000, brokers down secs+2 s; a queue big enough that lines time out
# inside librdkafka (reported by the failure callback) rather than being refused at the call.
set(_plf ${_fdir}/producer_lib_faults.sh $<TARGET_FILE:producer_lib_faults>)
set(_plf_down queue=20000 kafka_queue=100000 timeout_ms=3000)
rt_fault_test(faults.producer_lib.rtt 90 "integration;fault" ${_plf} rtt logs=20000 secs=4)
rt_fault_test(faults.producer_lib.down 90 "integration;fault" ${_plf} down logs=20000 secs=5
              ${_plf_down})
rt_fault_test(faults.producer_lib.errors 90 fault ${_plf} errors logs=20000 secs=6
              queue=20000 kafka_queue=100000)
rt_fault_test(faults.producer_lib.rtt_long 300 fault ${_plf} rtt runs=8 threads=8 logs=50000
              secs=20)
rt_fault_test(faults.producer_lib.down_long 300 fault ${_plf} down runs=8 threads=8 logs=100000
              secs=20 ${_plf_down})
rt_fault_test(faults.producer_lib.errors_long 300 fault ${_plf} errors runs=8 threads=8
              logs=100000 secs=20 queue=50000 kafka_queue=100000)
# _TRANSPORT too, one request in flight: the dev broker does not dedup an idempotent producer's
# retried batches (only transactional ones), so with 5 in flight the batches it appended before
# the injected close come back twice; a real broker drops them by sequence number
# (docs/reliability.md, Findings).
rt_fault_test(faults.producer_lib.transport 120 fault ${CMAKE_COMMAND} -E env
              RUNTRACK_KAFKA_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION=1 ${_plf} errors transport=1
              runs=8 threads=8 logs=50000 secs=12 queue=50000 kafka_queue=100000)
