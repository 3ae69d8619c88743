//! Route-level tests without a socket: every declared route enforces its access.

use super::*;
