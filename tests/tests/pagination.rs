//! Offset and keyset pagination, on every backend.

mod support;

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use covet::query::{Cursor, Keyset, KeysetPage};
use covet::{Database, ErrorKind, Executor, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "posts")]
struct Post {
    #[covet(primary_key, auto_increment)]
    id: i64,
    author: String,
    score: i32,
    published: DateTime<Utc>,
    note: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tags")]
struct Tag {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    label: String,
}

fn post(index: i64) -> Post {
    let seconds = 1_700_000_000 + (index % 5) * 3_600;
    Post {
        id: 0,
        author: format!("author{}", index % 3),
        score: i32::try_from(index % 4).unwrap(),
        published: Utc.timestamp_opt(seconds, 0).unwrap(),
        note: (index % 2 == 0).then(|| format!("note {index}")),
    }
}

/// Inserts `count` posts whose score, author and time repeat, so every sort key has ties.
async fn seed(db: &Database, count: i64) -> covet::Result<Vec<Post>> {
    Post::create_table(db).await?;
    let mut stored = Vec::new();
    for index in 0..count {
        stored.push(post(index).insert(db).await?);
    }
    Ok(stored)
}

fn ids(posts: &[Post]) -> Vec<i64> {
    posts.iter().map(|post| post.id).collect()
}

fn invalid_input(result: covet::Result<impl std::fmt::Debug>) -> String {
    let error = result.expect_err("expected an InvalidInput error");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    error.to_string()
}

/// Returns the sort every keyset test uses: score descending, author ascending, and then the key.
fn by_score_then_author() -> covet::query::Select<Post> {
    Post::query()
        .order_by_desc(Post::SCORE)
        .order_by_asc(Post::AUTHOR)
}

/// Walks every page forwards from the first, returning the pages.
async fn walk_forwards(
    db: &impl Executor,
    start: impl Fn() -> Keyset<Post>,
) -> covet::Result<Vec<KeysetPage<Post>>> {
    let mut pages = vec![start().fetch(db).await?];
    while let Some(next) = pages.last().unwrap().next.clone() {
        pages.push(start().after(&next)?.fetch(db).await?);
        assert!(pages.len() < 100, "the walk does not end");
    }
    Ok(pages)
}

backend_tests! {
    async fn paginate_counts_and_slices(db) {
        seed(&db, 23).await?;
        let expected = ids(&Post::query().order_by_asc(Post::ID).all(&db).await?);
        let mut seen = Vec::new();
        for number in 1..=5 {
            let page = Post::query().paginate(&db, number, 5).await?;
            assert_eq!(page.page, number);
            assert_eq!(page.per_page, 5);
            assert_eq!(page.total, 23);
            assert_eq!(page.total_pages, 5);
            let size = if number == 5 { 3 } else { 5 };
            assert_eq!(page.items.len(), size, "page {number}");
            seen.extend(ids(&page.items));
        }
        assert_eq!(seen, expected, "pages in key order cover every row once");
        let past = Post::query().paginate(&db, 9, 5).await?;
        assert!(past.items.is_empty(), "a page past the end is empty");
        assert_eq!(past.total, 23);
        assert_eq!(past.total_pages, 5);
        Ok(())
    }

    async fn paginate_uses_query_filter(db) {
        seed(&db, 23).await?;
        let query = || Post::query().filter(Post::SCORE.eq(1)).order_by_desc(Post::AUTHOR);
        let expected = query().order_by_asc(Post::ID).all(&db).await?;
        assert_eq!(expected.len(), 6);
        let first = query().paginate(&db, 1, 4).await?;
        let second = query().paginate(&db, 2, 4).await?;
        assert_eq!(first.total, 6, "the total counts only filtered rows");
        assert_eq!(first.total_pages, 2);
        assert_eq!(second.items.len(), 2);
        let seen: Vec<Post> = first.items.into_iter().chain(second.items).collect();
        assert_eq!(seen, expected, "author ties are broken by the key");
        let empty = Post::query().filter(Post::SCORE.gt(10)).paginate(&db, 1, 4).await?;
        assert_eq!(empty.total, 0);
        assert_eq!(empty.total_pages, 0);
        assert!(empty.items.is_empty());
        Ok(())
    }

    async fn paginate_rejects_bad_numbers(db) {
        seed(&db, 3).await?;
        let zero_page = invalid_input(Post::query().paginate(&db, 0, 10).await);
        assert!(zero_page.contains("page 0"), "{zero_page}");
        let zero_size = invalid_input(Post::query().paginate(&db, 1, 0).await);
        assert!(zero_size.contains("per_page 0"), "{zero_size}");
        let limited = invalid_input(Post::query().limit(2).paginate(&db, 1, 10).await);
        assert!(limited.contains("limit"), "{limited}");
        let huge = invalid_input(Post::query().paginate(&db, u64::MAX, 10).await);
        assert!(huge.contains(&u64::MAX.to_string()), "{huge}");
        Ok(())
    }

    async fn keyset_walks_both_ways(db) {
        seed(&db, 26).await?;
        let expected = ids(&by_score_then_author().order_by_asc(Post::ID).all(&db).await?);
        let start = || by_score_then_author().keyset(4).unwrap();
        let pages = walk_forwards(&db, start).await?;
        assert_eq!(pages.len(), 7);
        assert!(pages[0].prev.is_none(), "the first page has no prev");
        assert!(pages[6].next.is_none(), "the last page has no next");
        let forwards: Vec<i64> = pages.iter().flat_map(|page| ids(&page.items)).collect();
        assert_eq!(forwards, expected, "forwards visits every row once, in order");

        let mut backwards = Vec::new();
        let mut page = pages[6].clone();
        backwards.push(ids(&page.items));
        while let Some(prev) = page.prev.clone() {
            page = start().before(&prev)?.fetch(&db).await?;
            assert!(!page.items.is_empty(), "a page read backwards has rows");
            assert!(page.next.is_some(), "a page read backwards has a next");
            backwards.push(ids(&page.items));
            assert!(backwards.len() < 100, "the walk does not end");
        }
        backwards.reverse();
        let backwards: Vec<i64> = backwards.into_iter().flatten().collect();
        assert_eq!(backwards, expected, "backwards visits every row once, in order");
        let again = start().after(pages[0].next.as_ref().unwrap())?.fetch(&db).await?;
        assert_eq!(again, pages[1], "a cursor can be reused");
        Ok(())
    }

    async fn keyset_mixed_directions(db) {
        seed(&db, 30).await?;
        let sorted = || {
            Post::query()
                .filter(Post::SCORE.ne(3))
                .order_by_asc(Post::PUBLISHED)
                .order_by_desc(Post::AUTHOR)
                .order_by_desc(Post::ID)
        };
        let expected = ids(&sorted().all(&db).await?);
        assert_eq!(expected.len(), 23);
        for per_page in [1, 3, 7, 23, 50] {
            let pages = walk_forwards(&db, || sorted().keyset(per_page).unwrap()).await?;
            let visited: Vec<i64> = pages.iter().flat_map(|page| ids(&page.items)).collect();
            assert_eq!(visited, expected, "per_page {per_page}");
            let text = pages[0].next.as_ref().map(ToString::to_string);
            if let Some(text) = text {
                let parsed: Cursor = text.parse()?;
                let resumed = sorted().keyset(per_page)?.after(&parsed)?.fetch(&db).await?;
                assert_eq!(resumed, pages[1], "a cursor read back from text resumes");
            }
        }
        Ok(())
    }

    async fn keyset_survives_concurrent_inserts(db) {
        let original = seed(&db, 20).await?;
        let sorted = || Post::query().order_by_desc(Post::SCORE).order_by_asc(Post::PUBLISHED);
        let expected = ids(&sorted().order_by_asc(Post::ID).all(&db).await?);

        let mut visited = Vec::new();
        let mut page = sorted().keyset(6)?.fetch(&db).await?;
        visited.extend(ids(&page.items));
        let mut round = 0;
        while let Some(next) = page.next.clone() {
            // Rows sorting before the cursor (score 9 is first) and after it (score -1 is
            // last), inserted between two page reads.
            let mut early = post(1000 + round);
            early.score = 9;
            early.insert(&db).await?;
            let mut late = post(2000 + round);
            late.score = -1;
            late.insert(&db).await?;
            round += 1;
            page = sorted().keyset(6)?.after(&next)?.fetch(&db).await?;
            visited.extend(ids(&page.items));
            assert!(round < 100, "the walk does not end");
        }

        let unique: HashSet<i64> = visited.iter().copied().collect();
        assert_eq!(unique.len(), visited.len(), "no row repeats: {visited:?}");
        let original_ids: HashSet<i64> = ids(&original).into_iter().collect();
        let old_rows: Vec<i64> =
            visited.iter().copied().filter(|id| original_ids.contains(id)).collect();
        assert_eq!(old_rows, expected, "every original row once, in order");
        let early_seen = Post::query().filter(Post::SCORE.eq(9)).all(&db).await?;
        for row in early_seen {
            assert!(!visited.contains(&row.id), "row {} sorts before the cursor", row.id);
        }
        let late_count = visited.len() - old_rows.len();
        assert!(late_count >= 1, "rows inserted after the position are reached");
        Ok(())
    }

    async fn keyset_rejects_bad_cursors(db) {
        seed(&db, 10).await?;
        Tag::create_table(&db).await?;
        let start = || by_score_then_author().keyset(3).unwrap();
        let first = start().fetch(&db).await?;
        let good = first.next.clone().unwrap().to_string();

        let garbage = invalid_input(Cursor::parse("not a cursor!"));
        assert!(garbage.contains("base64"), "{garbage}");
        let not_json = invalid_input(Cursor::parse(&URL_SAFE_NO_PAD.encode("{oops")));
        assert!(not_json.contains("malformed"), "{not_json}");
        let truncated = invalid_input(Cursor::parse(&good[..good.len() / 2]));
        assert!(truncated.contains("cursor"), "{truncated}");
        let long = invalid_input(Cursor::parse(&"A".repeat(70_000)));
        assert!(long.contains("70000 bytes"), "{long}");

        let edit = |from: &str, to: &str| {
            let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&good).unwrap()).unwrap();
            assert!(json.contains(from), "{json} contains {from}");
            URL_SAFE_NO_PAD.encode(json.replacen(from, to, 1))
        };
        let version = invalid_input(Cursor::parse(&edit("\"v\":1", "\"v\":7")));
        assert!(version.contains("version 7"), "{version}");

        let tags = Tag::query().keyset(3)?.fetch(&db).await?;
        assert!(tags.next.is_none(), "no tags");
        let foreign = Tag::query().keyset(3)?;
        let other_table = first.next.clone().unwrap();
        let wrong_table = invalid_input(foreign.after(&other_table));
        assert!(wrong_table.contains("`posts`, not `tags`"), "{wrong_table}");

        let other_sort = Post::query().order_by_asc(Post::SCORE).keyset(3)?;
        let wrong_sort = invalid_input(other_sort.after(&other_table));
        assert!(wrong_sort.contains("score desc, author asc, id asc"), "{wrong_sort}");
        assert!(wrong_sort.contains("score asc, id asc"), "{wrong_sort}");

        let quoted = edit("\"x\":[", "\"x\":[\"3; DROP TABLE posts\",");
        let quoted = quoted.parse::<Cursor>();
        let wrong_count = invalid_input(quoted);
        assert!(wrong_count.contains("3 sort keys but 4 values"), "{wrong_count}");

        let first_value = first.items.last().unwrap().score;
        let typed = edit(&format!("\"x\":[{first_value}"), "\"x\":[\"3; DROP TABLE posts\"");
        let wrong_type = invalid_input(start().after(&typed.parse()?));
        assert!(wrong_type.contains("`score`"), "{wrong_type}");
        assert!(wrong_type.contains("DROP TABLE"), "{wrong_type}");

        let overflow = edit(&format!("\"x\":[{first_value}"), "\"x\":[99999999999");
        let too_big = invalid_input(start().after(&overflow.parse()?));
        assert!(too_big.contains("Int column `score`"), "{too_big}");

        // A forged value of the right type only moves the position: it is a bind value.
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&good).unwrap()).unwrap();
        let value_at = json.rfind("\"author").expect("the author value");
        let forged = format!("{}\"x'); DROP TABLE posts; --{}", &json[..value_at], &json[value_at + 1..]);
        let forged = URL_SAFE_NO_PAD.encode(forged);
        let page = start().after(&forged.parse()?)?.fetch(&db).await?;
        assert!(page.items.len() <= 3);
        assert_eq!(Post::query().count(&db).await?, 10, "the table is intact");
        Ok(())
    }

    async fn keyset_rejects_bad_setup(db) {
        seed(&db, 3).await?;
        let nullable = invalid_input(Post::query().order_by_asc(Post::NOTE).keyset(5));
        assert!(nullable.contains("nullable column `posts.note`"), "{nullable}");
        let zero = invalid_input(Post::query().keyset(0));
        assert!(zero.contains("per_page 0"), "{zero}");
        let offset = invalid_input(Post::query().offset(1).keyset(5));
        assert!(offset.contains("offset"), "{offset}");
        let by_key = Post::query().keyset(2)?.fetch(&db).await?;
        assert_eq!(by_key.items.len(), 2, "no sort key sorts by primary key");
        assert!(by_key.items[0].id < by_key.items[1].id);
        Ok(())
    }

    async fn keyset_unique_column_sort(db) {
        Tag::create_table(&db).await?;
        for label in ["delta", "alpha", "charlie", "bravo", "echo"] {
            Tag { id: 0, label: label.to_owned() }.insert(&db).await?;
        }
        let start = || Tag::query().order_by_desc(Tag::LABEL).keyset(2).unwrap();
        let first = start().fetch(&db).await?;
        let labels: Vec<&str> = first.items.iter().map(|tag| tag.label.as_str()).collect();
        assert_eq!(labels, ["echo", "delta"]);
        let second = start().after(first.next.as_ref().unwrap())?.fetch(&db).await?;
        let labels: Vec<&str> = second.items.iter().map(|tag| tag.label.as_str()).collect();
        assert_eq!(labels, ["charlie", "bravo"]);
        // A unique sort column needs no key tiebreaker, so the cursor contains it alone.
        let json = URL_SAFE_NO_PAD.decode(second.next.unwrap().to_string()).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"k\":[\"-label\"]"), "{json}");
        Ok(())
    }
}
