# The Debian package (CPack DEB): `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr; cross/build.sh drives it for every architecture.
# Included once from the top-level CMakeLists.txt; everything about the package
# lives here and in packaging/debian/.
#
# What the package holds is what `cmake --install` puts in place (binary,
# /etc/classroom-agent/agent.toml, the unit, sysusers.d and tmpfiles.d
# snippets) plus the docs below. Its version is the project version.

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME configuration.md)
install(FILES ${PROJECT_SOURCE_DIR}/drivers/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME metrics.md)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME systemd.md)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian architecture: the toolchain file's (cross/toolchain-*.cmake), or this machine's.
if(CLASSROOM_CROSS_DEB_ARCH)
  set(classroom_deb_arch ${CLASSROOM_CROSS_DEB_ARCH})
else()
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE classroom_deb_arch
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

# libcurl is not linked but loaded with dlopen by the http and throughput
# probes (drivers/probes/curl_api.hpp), so dpkg-shlibdeps cannot see it: the
# package Recommends it, with the dependency libcurl's own shlibs file gives
# for libcurl.so.4 (read from the dpkg database of the sysroot or this machine).
set(classroom_dpkg_admindir "")
if(CMAKE_CROSSCOMPILING AND CLASSROOM_SYSROOT)
  set(classroom_dpkg_admindir "${CLASSROOM_SYSROOT}/.dpkg")
endif()
set(classroom_curl_recommends "")
if(CURL_LIBRARIES)
  list(GET CURL_LIBRARIES 0 classroom_curl_lib)
  get_filename_component(classroom_curl_dir "${classroom_curl_lib}" DIRECTORY)
  set(classroom_query_env ${CMAKE_COMMAND} -E env)
  if(classroom_dpkg_admindir)
    list(APPEND classroom_query_env DPKG_ADMINDIR=${classroom_dpkg_admindir})
  endif()
  execute_process(COMMAND ${classroom_query_env} dpkg-query -S "${classroom_curl_dir}/libcurl.so.4"
                  OUTPUT_VARIABLE classroom_curl_owner ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE ":.*" "" classroom_curl_pkg "${classroom_curl_owner}")
  if(classroom_curl_pkg)
    execute_process(COMMAND ${classroom_query_env} dpkg-query --control-path ${classroom_curl_pkg}:${classroom_deb_arch} shlibs
                    OUTPUT_VARIABLE classroom_curl_shlibs_file ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(EXISTS "${classroom_curl_shlibs_file}")
      file(STRINGS "${classroom_curl_shlibs_file}" classroom_curl_line REGEX "^libcurl 4 ")
      string(REGEX REPLACE "^libcurl 4 " "" classroom_curl_recommends "${classroom_curl_line}")
    endif()
  endif()
endif()
if(NOT classroom_curl_recommends)
  message(WARNING "no shlibs entry for libcurl.so.4: the package will not recommend libcurl")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME classroom-agent)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Classroom Telemetry Agent maintainers <classroom-agent@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Classroom gateway telemetry over MQTT (Sparkplug B)")
# The long description; CPack puts the summary above it and indents it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "A small daemon for classroom gateways: it samples the system, network,
NAT, Wi-Fi and classroom LAN, runs connectivity probes, polls SNMP devices
and publishes it all as Sparkplug B over MQTT, with a disk spool for the
times the broker is unreachable. Installing it starts nothing: edit
/etc/classroom-agent/agent.toml, then systemctl enable --now classroom-agent.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${classroom_deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Run-time libraries: computed from the binary by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# useradd, when the machine has no systemd-sysusers (postinst).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "${classroom_curl_recommends}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
if(classroom_dpkg_admindir)
  # dpkg-shlibdeps for the target: its libraries in the sysroot, their packages
  # in the sysroot's dpkg database (cross/sysroot.sh), the target architecture.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
      ${CLASSROOM_SYSROOT}/lib/${CMAKE_LIBRARY_ARCHITECTURE}
      ${CLASSROOM_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
  configure_file(${CMAKE_CURRENT_LIST_DIR}/cpack-cross.cmake.in
                 ${PROJECT_BINARY_DIR}/cpack-cross.cmake @ONLY)
  set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/cpack-cross.cmake)
endif()
include(CPack)
