-- Turns a doc/*.md page into a manual page's shape (used by the Makefile's
-- man rule, after --shift-heading-level-by=-1).
--
-- Section headings in capitals.
function Header(h)
	if h.level == 1 then
		return pandoc.walk_block(h, { Str = function(s) return pandoc.Str(s.text:upper()) end })
	end
end

-- A table becomes a list: its first column the terms, the other columns
-- "heading: value; ..." (or the bare value for two columns).  tbl lays wide
-- tables out differently at each terminal width, and warns (too wide, a
-- text block longer than a page) at some of them; a list fits any width.
function Table(t)
	local heads, items = {}, {}
	if #t.head.rows > 0 then
		for i, c in ipairs(t.head.rows[1].cells) do
			heads[i] = pandoc.utils.stringify(c.contents)
		end
	end
	for _, body in ipairs(t.bodies) do
		for _, row in ipairs(body.body) do
			local def = {}
			for i = 2, #row.cells do
				local value = pandoc.utils.blocks_to_inlines(row.cells[i].contents)
				if #value > 0 then
					if #def > 0 then
						def[#def + 1] = pandoc.Str(';')
						def[#def + 1] = pandoc.Space()
					end
					if #row.cells > 2 then
						def[#def + 1] = pandoc.Emph({ pandoc.Str(heads[i] .. ':') })
						def[#def + 1] = pandoc.Space()
					end
					for _, x in ipairs(value) do
						def[#def + 1] = x
					end
				end
			end
			local term = pandoc.utils.blocks_to_inlines(row.cells[1].contents)
			items[#items + 1] = { term, { { pandoc.Para(def) } } }
		end
	end
	return pandoc.DefinitionList(items)
end

-- Left-aligned text, as most manual pages are.
function Pandoc(doc)
	table.insert(doc.blocks, 1, pandoc.RawBlock('man', '.ad l'))
	return doc
end
