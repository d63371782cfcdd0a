# Included by tests/ledger/CMakeLists.txt after ledger_tests is defined:
# the test SQLite VFS that fault_test.cc uses, and ledger_append_loop, the
# program that crash_test.cc kills with SIGKILL while it appends.
add_executable(ledger_append_loop ${CMAKE_CURRENT_LIST_DIR}/append_loop.cc)
target_link_libraries(ledger_append_loop PRIVATE consentd_ledger consentd_base Threads::Threads)

target_sources(ledger_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/faulty_vfs.cc)
add_dependencies(ledger_tests ledger_append_loop)
target_compile_definitions(ledger_tests PRIVATE
  LEDGER_APPEND_LOOP_PATH="$<TARGET_FILE:ledger_append_loop>")
