// Tests for rate_limiter arrive with its implementation.
#include <catch2/catch.hpp>
