use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 alphabetic currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::BadCurrency);
        }
        Ok(Self([b[0], b[1], b[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must not be negative")]
    Negative,
    #[error("amount overflows")]
    Overflow,
    #[error("currency must be an iso 4217 code such as CNY")]
    BadCurrency,
    #[error("currencies differ")]
    CurrencyMismatch,
}

/// A non-negative amount in integer minor units with its currency. Arithmetic is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Largest accepted amount: 10^15 minor units, far above any real order, far below overflow.
    pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        if minor > Self::MAX_MINOR {
            return Err(MoneyError::Overflow);
        }
        Ok(Self { minor, currency })
    }

    pub fn parse(minor: i64, currency: &str) -> Result<Self, MoneyError> {
        Self::new(minor, Currency::parse(currency)?)
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Money::new(sum, self.currency)
    }

    /// Subtraction that stops at zero (a refund never goes negative).
    pub fn saturating_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(Money {
            minor: (self.minor - other.minor).max(0),
            currency: self.currency,
        })
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let v = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Money::new(v, self.currency)
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch)
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_amount_and_currency() {
        let cases: &[(i64, &str, Result<(), MoneyError>)] = &[
            (0, "CNY", Ok(())),
            (100, "USD", Ok(())),
            (-1, "CNY", Err(MoneyError::Negative)),
            (Money::MAX_MINOR + 1, "CNY", Err(MoneyError::Overflow)),
            (1, "cny", Err(MoneyError::BadCurrency)),
            (1, "", Err(MoneyError::BadCurrency)),
            (1, "YUAN", Err(MoneyError::BadCurrency)),
        ];
        for (minor, cur, want) in cases {
            assert_eq!(
                Money::parse(*minor, cur).map(|_| ()),
                *want,
                "{minor} {cur}"
            );
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::parse(500, "CNY").unwrap();
        let b = Money::parse(700, "CNY").unwrap();
        assert_eq!(a.checked_add(b).unwrap().minor(), 1200);
        assert_eq!(a.saturating_sub(b).unwrap().minor(), 0);
        assert_eq!(b.saturating_sub(a).unwrap().minor(), 200);
        assert_eq!(
            a.checked_add(Money::parse(1, "USD").unwrap()),
            Err(MoneyError::CurrencyMismatch)
        );
        assert_eq!(a.checked_mul(i64::MAX), Err(MoneyError::Overflow));
    }
}
