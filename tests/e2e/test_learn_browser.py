"""In a real browser: edit the Tensors page's matrix and see its transpose follow.

Both tables are Glide data grids (a canvas); the grid keeps an accessible copy of its cells
in the DOM (a <table role=grid> inside the canvas, which Playwright's role queries do not see:
plain CSS finds it), and that is what these tests read.
"""
from playwright.sync_api import expect

from tests.e2e.conftest import exceptions_on_screen, open_app, wait_idle

HEADER_PX, ROW_PX = 36, 35  # Glide's header row and data rows (Streamlit's defaults)
ROW_MARKER_PX = 30  # num_rows="dynamic" adds a row-selection column of checkboxes on the left


def editor(page):
    return page.locator(".st-key-tensors_transpose_matrix [data-testid='stDataFrame']")


def result(page):
    """The m.t() table: the only grid whose column headers are the rows of m."""
    return page.locator("[data-testid='stDataFrame']").filter(has=page.locator("th:text-is('row 0')"))


def grid_values(grid) -> list[list[str]]:
    """The visible cells of a grid, row by row, from its accessible table (index column included)."""
    return grid.evaluate("""(grid) => {
        const rows = [...grid.querySelectorAll('table[role=grid] tbody tr')];
        return rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent.trim()));
    }""")


def column_headers(grid) -> list[str]:
    return grid.evaluate("(grid) => [...grid.querySelectorAll('table[role=grid] thead th')]"
                         ".map((cell) => cell.textContent.trim())")


def type_into_cell(page, grid, row: int, column: int, value: str) -> None:
    """Select the top-left cell by clicking it, move with the arrow keys (no guessing of column
    widths), open the cell editor with Enter, fill it and commit with Enter (as Streamlit's own
    e2e tests do: the editor is an input in the "portal" overlay)."""
    expect(grid.locator("canvas").first).to_be_visible()
    # The grid starts at the element's corner; 20 px into the first data column (after the row markers).
    grid.click(position={"x": ROW_MARKER_PX + 20, "y": HEADER_PX + ROW_PX / 2})
    for key, times in (("ArrowDown", row), ("ArrowRight", column)):
        for _ in range(times):
            page.keyboard.press(key)
    page.keyboard.press("Enter")
    cell_editor = page.get_by_test_id("portal").locator(".gdg-clip-region").locator("input, textarea").first
    expect(cell_editor).to_be_visible()
    cell_editor.fill(value)
    cell_editor.press("Enter")


def test_editing_the_matrix_changes_its_transpose(page, server):
    open_app(page, server, "learn_tensors")
    expect(result(page)).to_be_visible()
    assert exceptions_on_screen(page) == []
    assert column_headers(result(page)) == ["", "row 0", "row 1"]
    assert grid_values(result(page)) == [["col 0", "1", "4"], ["col 1", "2", "5"], ["col 2", "3", "6"]]

    # m[0][0]: 1 -> 7 and m[1][2]: 6 -> -8, two cells off each other's transposed place.
    type_into_cell(page, editor(page), 0, 0, "7")
    wait_idle(page)
    expect(result(page).locator("td:text-is('7')")).to_have_count(1, timeout=30_000)
    type_into_cell(page, editor(page), 1, 2, "-8")
    wait_idle(page)
    expect(result(page).locator("td:text-is('-8')")).to_have_count(1, timeout=30_000)

    assert grid_values(editor(page)) == [["7", "2", "3"], ["4", "5", "-8"]]
    assert grid_values(result(page)) == [["col 0", "7", "4"], ["col 1", "2", "5"], ["col 2", "3", "-8"]]
    expect(page.get_by_text("give the same matrix, of shape (3, 2)")).to_be_visible()
    assert exceptions_on_screen(page) == []


def test_a_row_added_to_the_matrix_becomes_a_column_of_the_transpose(page, server):
    open_app(page, server, "learn_tensors")
    expect(result(page)).to_be_visible()
    for column, value in enumerate(("10", "11", "12")):  # the editor's trailing empty row adds a row
        type_into_cell(page, editor(page), 2, column, value)
        wait_idle(page)
        assert exceptions_on_screen(page) == [], "a half-filled row is a message, not a traceback"
    expect(result(page).locator("th:text-is('row 2')")).to_have_count(1, timeout=30_000)
    expect(result(page).locator("td:text-is('12')")).to_have_count(1, timeout=30_000)
    assert grid_values(editor(page)) == [["1", "2", "3"], ["4", "5", "6"], ["10", "11", "12"]]
    assert grid_values(result(page)) == [["col 0", "1", "4", "10"], ["col 1", "2", "5", "11"],
                                         ["col 2", "3", "6", "12"]]
    expect(page.get_by_text("give the same matrix, of shape (3, 3)")).to_be_visible()
    assert exceptions_on_screen(page) == []
