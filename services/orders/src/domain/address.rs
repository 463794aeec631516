//! Shipping address of an order.

use super::validate::{Violations, optional_text, required_text};
use aftersales_kernel::{DomainError, limits};
use serde::{Deserialize, Serialize};

/// A postal address. Build it from raw input and call [`Address::validated`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub recipient_name: String,
    pub phone: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub street: String,
    pub postal_code: String,
}

impl Address {
    /// Trims every part and checks required parts and lengths, naming `field.part` on failure.
    pub fn validated(self, field: &str) -> Result<Address, DomainError> {
        let mut v = Violations::new();
        let f = |part: &str| format!("{field}.{part}");
        let short = limits::SHORT_TEXT;
        let req = |v: &mut Violations, part: &str, value: &str, max: usize| {
            v.check(required_text(&f(part), value, max))
                .unwrap_or_default()
        };
        let recipient_name = req(&mut v, "recipient_name", &self.recipient_name, short);
        let phone = req(&mut v, "phone", &self.phone, short);
        let country_code = req(&mut v, "country_code", &self.country_code, short);
        let city = req(&mut v, "city", &self.city, short);
        let street = req(&mut v, "street", &self.street, limits::LONG_TEXT);
        let opt = |v: &mut Violations, part: &str, value: &str| {
            v.check(optional_text(&f(part), value, short))
                .flatten()
                .unwrap_or_default()
        };
        let province = opt(&mut v, "province", &self.province);
        let district = opt(&mut v, "district", &self.district);
        let postal_code = opt(&mut v, "postal_code", &self.postal_code);
        if !country_code.is_empty()
            && (country_code.len() != 2 || !country_code.bytes().all(|b| b.is_ascii_uppercase()))
        {
            v.push(
                f("country_code"),
                "must be an iso 3166-1 alpha-2 code such as CN",
            );
        }
        v.finish()?;
        Ok(Address {
            recipient_name,
            phone,
            country_code,
            province,
            city,
            district,
            street,
            postal_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::address;

    fn fields(err: DomainError) -> Vec<String> {
        match err {
            DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            DomainError::Rule(r) => panic!("unexpected rule {r}"),
        }
    }

    #[test]
    fn valid_address_is_trimmed() {
        let mut a = address();
        a.city = "  Hangzhou ".into();
        a.province = "  ".into();
        let got = a.validated("shipping_address").unwrap();
        assert_eq!(got.city, "Hangzhou");
        assert_eq!(got.province, "");
    }

    #[test]
    fn every_bad_part_is_named() {
        type Edit = fn(&mut Address);
        let cases: &[(Edit, &str)] = &[
            (
                |a| a.recipient_name.clear(),
                "shipping_address.recipient_name",
            ),
            (|a| a.phone.clear(), "shipping_address.phone"),
            (|a| a.country_code.clear(), "shipping_address.country_code"),
            (
                |a| a.country_code = "cn".into(),
                "shipping_address.country_code",
            ),
            (
                |a| a.country_code = "CHN".into(),
                "shipping_address.country_code",
            ),
            (|a| a.city.clear(), "shipping_address.city"),
            (|a| a.street.clear(), "shipping_address.street"),
            (
                |a| a.street = "s".repeat(limits::LONG_TEXT + 1),
                "shipping_address.street",
            ),
            (
                |a| a.province = "p".repeat(limits::SHORT_TEXT + 1),
                "shipping_address.province",
            ),
            (
                |a| a.district = "d".repeat(limits::SHORT_TEXT + 1),
                "shipping_address.district",
            ),
            (
                |a| a.postal_code = "9".repeat(limits::SHORT_TEXT + 1),
                "shipping_address.postal_code",
            ),
        ];
        for (edit, field) in cases {
            let mut a = address();
            edit(&mut a);
            assert_eq!(
                fields(a.validated("shipping_address").unwrap_err()),
                [*field]
            );
        }
        assert_eq!(
            fields(Address::default().validated("a").unwrap_err()).len(),
            5
        );
        let mut ok = address();
        ok.street = "s".repeat(limits::LONG_TEXT);
        assert!(ok.validated("a").is_ok());
    }
}
