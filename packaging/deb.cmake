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

# libcurl, c-ares and net-snmp are not linked but loaded with dlopen (the
# http and throughput probes; name resolution and the DNS probe; SNMP devices:
# see drivers/probes/shared_library.hpp), so dpkg-shlibdeps cannot see them.
# The package Depends on c-ares (any probe target or device named by host name
# needs it) and net-snmp (a device without it polls nothing: the first
# feature of the package), and Recommends libcurl, each with the dependency the
# library's own shlibs file gives for it (read from the dpkg database of the
# sysroot or this machine).
set(classroom_dpkg_admindir "")
if(CMAKE_CROSSCOMPILING AND CLASSROOM_SYSROOT)
  set(classroom_dpkg_admindir "${CLASSROOM_SYSROOT}/.dpkg")
endif()
# Sets `out` to the shlibs dependency of the library `dir`/`name`.so.`version`
# ("libc-ares2 (>= 1.11.0~rc1)"), or "" when the database has none.
function(classroom_shlibs_dependency dir name version out)
  set(query_env ${CMAKE_COMMAND} -E env)
  if(classroom_dpkg_admindir)
    list(APPEND query_env DPKG_ADMINDIR=${classroom_dpkg_admindir})
  endif()
  set(dependency "")
  execute_process(COMMAND ${query_env} dpkg-query -S "${dir}/${name}.so.${version}"
                  OUTPUT_VARIABLE owner ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE ":.*" "" pkg "${owner}")
  if(pkg)
    execute_process(COMMAND ${query_env} dpkg-query --control-path ${pkg}:${classroom_deb_arch} shlibs
                    OUTPUT_VARIABLE shlibs_file ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(EXISTS "${shlibs_file}")
      file(STRINGS "${shlibs_file}" line REGEX "^${name} ${version} ")
      string(REGEX REPLACE "^${name} ${version} " "" dependency "${line}")
    endif()
  endif()
  set(${out} "${dependency}" PARENT_SCOPE)
endfunction()
set(classroom_curl_recommends "")
if(CURL_LIBRARIES)
  list(GET CURL_LIBRARIES 0 classroom_curl_lib)
  get_filename_component(classroom_curl_dir "${classroom_curl_lib}" DIRECTORY)
  classroom_shlibs_dependency("${classroom_curl_dir}" libcurl 4 classroom_curl_recommends)
endif()
classroom_shlibs_dependency("${CARES_LIBDIR}" libcares 2 classroom_cares_depends)
classroom_shlibs_dependency("${NETSNMP_LIBDIR}" libnetsnmp 40 classroom_netsnmp_depends)
if(NOT classroom_netsnmp_depends)
  message(WARNING "no shlibs entry for libnetsnmp.so.40: the package will not depend on net-snmp")
endif()
if(NOT classroom_cares_depends)
  message(WARNING "no shlibs entry for libcares.so.2: the package will not depend on c-ares")
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
# useradd, when the machine has no systemd-sysusers (postinst); c-ares and
# net-snmp (above).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
if(classroom_cares_depends)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", ${classroom_cares_depends}")
endif()
if(classroom_netsnmp_depends)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", ${classroom_netsnmp_depends}")
endif()
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
