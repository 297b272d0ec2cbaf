//! How PostgreSQL holds the domain's ids and times, so that the shared SQL
//! (`store/common`) binds and reads them as they are: a [`Timestamp`] is a `timestamptz`
//! (a time outside chrono's range fails to encode and the store answers `Invalid`), an
//! incident or attachment id a `uuid`.

use crate::model::{IncidentId, Timestamp};
use crate::store::AttachmentId;
use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let t = self
            .to_chrono()
            .ok_or_else(|| format!("timestamp {} µs is out of range", self.micros()))?;
        <DateTime<Utc> as Encode<Postgres>>::encode(t, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Postgres>>::decode(value).map(Timestamp::from_chrono)
    }
}

/// A UUID newtype stored as `uuid`.
macro_rules! uuid_column {
    ($t:ty) => {
        impl Type<Postgres> for $t {
            fn type_info() -> PgTypeInfo {
                <uuid::Uuid as Type<Postgres>>::type_info()
            }
        }

        impl Encode<'_, Postgres> for $t {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <uuid::Uuid as Encode<Postgres>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $t {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                <uuid::Uuid as Decode<Postgres>>::decode(value).map(Self)
            }
        }
    };
}

uuid_column!(IncidentId);
uuid_column!(AttachmentId);
