# gpu_bench: embeddings/s and per-frame latency on a CUDA device (the figures of tests/gpu/run.sh).
# Included from samples/bench and from tests/ (so builds without samples have it); defined once.
if(TARGET gpu_bench)
  return()
endif()
add_executable(gpu_bench ${CMAKE_CURRENT_LIST_DIR}/gpu_bench.cpp)
target_link_libraries(gpu_bench PRIVATE siamese_core siamese_cli siamese_warnings)
