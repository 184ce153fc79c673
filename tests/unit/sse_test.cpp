// Tests for sse arrive with its implementation.
#include <catch2/catch.hpp>
