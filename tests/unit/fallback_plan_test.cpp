// Tests for fallback_plan arrive with its implementation.
#include <catch2/catch.hpp>
