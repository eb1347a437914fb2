//! covet's first example: one model, its migrations, and every basic operation.
//!
//! With no setup it creates a SQLite database in a temporary directory. Set DATABASE_URL to
//! run the same code on PostgreSQL or MariaDB, for example
//! `DATABASE_URL=postgres://root@127.0.0.1/test cargo run --example quickstart`.

use covet::{Database, Filter, Model, Order, Transaction};
use covet_migrate::{DownTarget, Migration, Migrator, RustMigration, embed_migrations};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "quickstart_books")]
struct Book {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    title: String,
    author: String,
    year: i32,
    rating: Option<f64>,
}

/// Migration 1, in Rust: the table as the model declares it, with each backend's types.
struct CreateBooks;

#[async_trait::async_trait]
impl RustMigration for CreateBooks {
    fn version(&self) -> i64 {
        1
    }

    fn name(&self) -> &str {
        "create_books"
    }

    async fn up(&self, tx: &Transaction) -> covet::Result<()> {
        Book::create_table(tx).await
    }

    fn has_down(&self) -> bool {
        true
    }

    async fn down(&self, tx: &Transaction) -> covet::Result<()> {
        Book::drop_table(tx).await
    }
}

fn book(title: &str, author: &str, year: i32, rating: Option<f64>) -> Book {
    Book {
        id: 0,
        title: title.to_owned(),
        author: author.to_owned(),
        year,
        rating,
    }
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = std::env::temp_dir().join(format!("covet-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => format!("sqlite://{}", scratch.join("books.db").display()),
    };
    let db = Database::connect(&url).await?;
    println!(
        "connected to {} ({})",
        db.backend().system_name(),
        covet::redact_url(&url)
    );

    // Migration 2 is SQL in examples/migrations, compiled into this binary.
    let mut migrations = embed_migrations!("migrations")?;
    migrations.add(Migration::rust(CreateBooks))?;
    let migrator = Migrator::new(migrations);
    migrator.down(&db, DownTarget::To(0)).await?;
    let report = migrator.up(&db, None).await?;
    for done in &report.applied {
        println!("applied migration {} {}", done.version, done.name);
    }

    let first = Book::query()
        .filter(Book::TITLE.eq("The Dispossessed"))
        .one(&db)
        .await?;
    println!("the seed migration inserted {first:?}");
    let batch = [
        book("Kindred", "Octavia E. Butler", 1979, Some(4.5)),
        book("Piranesi", "Susanna Clarke", 2020, None),
        book(
            "The Left Hand of Darkness",
            "Ursula K. Le Guin",
            1969,
            Some(4.3),
        ),
    ];
    let inserted = Book::insert_many(&db, &batch).await?;
    println!("inserted {inserted} more books in one statement");

    let le_guin = Book::query()
        .filter(Book::AUTHOR.eq("Ursula K. Le Guin"))
        .order_by(Book::YEAR, Order::Asc)
        .all(&db)
        .await?;
    for found in &le_guin {
        println!("by Le Guin: {} ({})", found.title, found.year);
    }

    let unrated = Book::query()
        .filter(Book::RATING.eq(None))
        .count(&db)
        .await?;
    println!("{unrated} book(s) without a rating");

    let mut piranesi = Book::query()
        .filter(Book::TITLE.eq("Piranesi"))
        .one(&db)
        .await?;
    piranesi.rating = Some(4.4);
    piranesi.update(&db).await?;
    println!("rated {} at {:?}", piranesi.title, piranesi.rating);

    let removed = db
        .transaction(|tx| async move {
            let removed = Book::delete_many()
                .filter(Filter::any_of([
                    Book::YEAR.lt(1970),
                    Book::TITLE.contains("Kindred"),
                ]))
                .exec(&tx)
                .await?;
            Ok::<_, covet::Error>(removed)
        })
        .await?;
    println!("deleted {removed} book(s) inside a committed transaction");

    let remaining = Book::query()
        .order_by(Book::TITLE, Order::Asc)
        .all(&db)
        .await?;
    let titles: Vec<&str> = remaining.iter().map(|book| book.title.as_str()).collect();
    println!("remaining: {titles:?}");

    let reverted = migrator.down(&db, DownTarget::To(0)).await?;
    println!(
        "reverted {} migrations, leaving the database as it was",
        reverted.reverted.len()
    );

    db.close();
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}
