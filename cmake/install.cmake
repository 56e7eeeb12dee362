# `cmake --install BUILD [--prefix P]`: programs to bin/, the plugin where GStreamer looks for
# plugins under the prefix (${libdir}/gstreamer-1.0), the pinned weight checksums and the
# fetch script beside them, the licence and notices to the doc folder.
# Included after the targets are defined; CMAKE_INSTALL_RPATH_USE_LINK_PATH is set before them
# (in the top-level CMakeLists.txt).
include(GNUInstallDirs)

set(SIAMESE_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/gst-siamese)
set(SIAMESE_PLUGIN_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/gstreamer-1.0 CACHE STRING
    "Where `cmake --install` puts libgstsiamese.so, relative to the prefix")

install(TARGETS siamese-train siamese-eval siamese-import siamese-enroll
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET gstsiamese)
  install(TARGETS gstsiamese LIBRARY DESTINATION ${SIAMESE_PLUGIN_INSTALL_DIR})
endif()
# The samples a deployment runs (the door, the bus-to-JSON filter); benchmarks stay in the tree.
foreach(program siamese-access-control siamese-bus-json siamese-render-walk)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# siamese-fetch-weights finds the checksums in ../share/gst-siamese/weights/ (fetch_weights.sh).
install(FILES ${PROJECT_SOURCE_DIR}/pipeline/weights/face-api-1.7.15.sha256
        DESTINATION ${SIAMESE_INSTALL_DATADIR}/weights)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tests/fetch_weights.sh
        DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME siamese-fetch-weights)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/THIRD_PARTY_NOTICES.md
              ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
