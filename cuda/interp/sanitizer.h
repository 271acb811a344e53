// KILN_SIM_ASAN is 1 in AddressSanitizer builds (GCC's __SANITIZE_ADDRESS__ or clang's feature
// test): the interpreter then annotates fiber switches and poisons shared-memory red zones.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define KILN_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_SIM_ASAN 1
#endif
#endif
#ifndef KILN_SIM_ASAN
#define KILN_SIM_ASAN 0
#endif
