#pragma once
// Test support: replaces global operator new to count heap allocations made by the calling
// thread, so a test can show a hot path allocates only what it returns. Include it in exactly one
// file of a test executable. thread_local keeps Qt Test's watchdog thread out of the count.

#include <cstdlib>
#include <new>

namespace kvscope::test {
inline thread_local long allocations = 0;
}

void* operator new(std::size_t n) {
    ++kvscope::test::allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
// The nothrow form too (Qt's JSON parser uses it): its memory is released by the operator delete
// above, and AddressSanitizer reports a mismatch when the two come from different allocators.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++kvscope::test::allocations;
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
