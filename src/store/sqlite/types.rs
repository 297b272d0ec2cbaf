//! How SQLite holds the domain's ids and times, so that the shared SQL (`store/common`)
//! binds and reads them as they are: a [`Timestamp`] is an integer of microseconds, an
//! incident or attachment id its UUID as text.

use crate::model::{IncidentId, Timestamp};
use crate::store::AttachmentId;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Sqlite, Type};

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<Sqlite>>::decode(value).map(Timestamp)
    }
}

/// A UUID newtype stored as its text form.
macro_rules! uuid_as_text {
    ($t:ty, $what:literal) => {
        impl Type<Sqlite> for $t {
            fn type_info() -> SqliteTypeInfo {
                <&str as Type<Sqlite>>::type_info()
            }
            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <&str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl Encode<'_, Sqlite> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut SqliteArgumentsBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $t {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Sqlite>>::decode(value)?;
                uuid::Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|e| format!(concat!($what, " {:?}: {}"), text, e).into())
            }
        }
    };
}

uuid_as_text!(IncidentId, "incident id");
uuid_as_text!(AttachmentId, "attachment id");
