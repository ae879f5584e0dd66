//! Aligned columns as kubectl prints them: three spaces between columns, no trailing blanks.

/// Prints `lines` (the header first) with every column as wide as its widest cell.
pub fn print_columns(lines: &[Vec<String>]) {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        super::stdout::line(cells.join("   ").trim_end());
    }
}
