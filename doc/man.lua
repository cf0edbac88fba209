-- Turns a doc/*.md page into a manual page's shape (used by the Makefile's
-- man rule, after --shift-heading-level-by=-1): section headings in capitals,
-- tables narrowed to leave tbl room for its column gaps (pandoc's widths
-- add up to the whole line, which tbl then finds too wide), text left-aligned.
function Header(h)
	if h.level == 1 then
		return pandoc.walk_block(h, { Str = function(s) return pandoc.Str(s.text:upper()) end })
	end
end

function Table(t)
	for i, spec in ipairs(t.colspecs) do
		if type(spec[2]) == 'number' then
			t.colspecs[i] = { spec[1], spec[2] * 0.85 }
		end
	end
	return t
end

-- Left-aligned text, as most manual pages are: narrow table cells holding
-- long names cannot be justified, and troff warns about each such line.
function Pandoc(doc)
	table.insert(doc.blocks, 1, pandoc.RawBlock('man', '.ad l'))
	return doc
end
