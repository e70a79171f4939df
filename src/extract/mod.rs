//! STUB
#[derive(Debug, Clone, Default)]
pub struct Article {
    pub title: String,
    pub text: String,
    pub authors: Vec<String>,
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
    pub lang: Option<String>,
    pub site_name: Option<String>,
    pub canonical_url: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct ExtractError;
pub fn extract(_b: &[u8], _u: Option<&str>, _c: Option<&str>) -> Result<Article, ExtractError> {
    Err(ExtractError)
}
