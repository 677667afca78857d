//! Relay's page information, shared by every connection.

use async_graphql::SimpleObject;

/// Where a page sits in its list.
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    /// More items follow the page.
    pub has_next_page: bool,
    /// Items precede the page.
    pub has_previous_page: bool,
    /// The cursor of the page's first item.
    pub start_cursor: Option<String>,
    /// The cursor of the page's last item.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page information of `cursors` (in page order).
    pub fn of<'a>(
        mut cursors: impl DoubleEndedIterator<Item = &'a String> + Clone,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> PageInfo {
        PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: cursors.clone().next().cloned(),
            end_cursor: cursors.next_back().cloned(),
        }
    }
}
