use crate::FieldViolation;
use uuid::Uuid;

/// Parses a required UUID field, naming the field when it is missing or malformed.
pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| FieldViolation::new(field, "must be a uuid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field() {
        assert_eq!(parse_uuid("order_id", "").unwrap_err().field, "order_id");
        assert_eq!(
            parse_uuid("order_id", "nope").unwrap_err().description,
            "must be a uuid"
        );
        let id = Uuid::new_v4();
        assert_eq!(parse_uuid("order_id", &id.to_string()), Ok(id));
    }
}
