//! The pages. For now one placeholder page that shows the live feed is flowing; the
//! real wall, console, department and mobile pages come from `web-ui/`.

use axum::response::Html;

pub async fn index() -> Html<&'static str> {
    Html(include_str!("../../web-ui/index.html"))
}
